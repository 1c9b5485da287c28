// Types for addon-path.mjs (imported by media/fax/addon.ts).
export declare const projectRoot: string;
export declare const nativeDir: string;
export declare const addonFile: string;
export declare function statusFile(root?: string): string;
export interface FaxAddonStatus {
  ok: boolean;
  reason?: string;
  stamp?: string;
  spandsp?: string;
  node?: string;
  at?: string;
}
export declare function readStatus(root?: string): FaxAddonStatus | null;
