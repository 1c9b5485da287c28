export { ConfigStore, type ConfigStoreOptions, type StoredConfig } from "./ConfigStore.ts";
export { EdgeLink, type EdgeLinkEvents, type EdgeLinkOptions, type EdgeLinkState } from "./EdgeLink.ts";
export { EnhancedEventEmitter, type Events } from "./EnhancedEventEmitter.ts";
export { ConsoleLogger, type Logger } from "./Logger.ts";
export type { HubMessage, NodeMessage, RejectedFrame } from "./messages.ts";
