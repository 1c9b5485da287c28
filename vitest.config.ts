import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";
import { ensurePwa } from "./pwa/build.ts";

// wrangler.toml serves pwa/dist as static assets, and the pool refuses a missing assets folder.
await ensurePwa((line) => console.log(line));

/** Edge and shared tests, run inside workerd with the real Durable Objects. */
export default defineConfig({
  plugins: [
    cloudflareTest(({ inject }) => ({
      main: "./edge/index.ts",
      wrangler: { configPath: "./wrangler.toml" },
      miniflare: {
        bindings: {
          SMTP_PORT: String(inject("smtpPort")),
          MEDIA_NODE_TOKEN: "test-media-node-token",
          INBOX_URL: `http://127.0.0.1:${inject("inboxPort")}/messages`,
        },
      },
    })),
  ],
  test: {
    include: ["edge/**/*.test.ts", "shared/**/*.test.ts"],
    globalSetup: ["./test/support/edge-global-setup.ts"],
    testTimeout: 20_000,
  },
});
