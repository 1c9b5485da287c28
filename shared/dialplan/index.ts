export * from "./decide.ts";
export * from "./numbers.ts";
export * from "./time.ts";
export * from "./types.ts";
