/** The slice of node:crypto (nodejs_compat) that tests use to check digests independently of WebCrypto. */
declare module "node:crypto" {
  export function createHash(algorithm: string): { update(data: string): { digest(encoding: "hex"): string } };
}
