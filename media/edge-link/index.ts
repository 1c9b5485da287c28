export { ConfigStore, type ConfigStoreOptions, type StoredConfig } from "./ConfigStore.ts";
export { EdgeLink, type EdgeLinkEvents, type EdgeLinkOptions, type EdgeLinkState } from "./EdgeLink.ts";
export type { HubMessage, NodeMessage, RejectedFrame } from "./messages.ts";
