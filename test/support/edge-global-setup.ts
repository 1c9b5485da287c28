import type { TestProject } from "vitest/node";
import { MailSink } from "./mail-sink.ts";

declare module "vitest" {
  export interface ProvidedContext {
    smtpPort: number;
    inboxPort: number;
  }
}

/** Starts the loopback SMTP relay that the edge sends recovery mail to during tests. */
export default async function setup(project: TestProject) {
  const sink = await new MailSink().start();
  project.provide("smtpPort", sink.smtpPort);
  project.provide("inboxPort", sink.inboxPort);
  return () => sink.stop();
}
