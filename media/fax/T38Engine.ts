import { type FaxAddon, loadFaxAddon, type T38Session } from "./addon.ts";
import { FAX_FRAME_SAMPLES, type FaxEngineOptions, T30Engine } from "./FaxEngine.ts";

/**
 * One fax over T.38 (SpanDSP's T.38 terminal): `receive()` each IFP packet heard with its UDPTL
 * sequence number, `tick()` every 20 ms for the IFP packets to send. The same T.30, events and
 * result as the audio FaxEngine; the transport (UDPTL) is the caller's.
 */
export class T38Engine extends T30Engine<T38Session> {
  /** Packets T.38 produced while hearing one (sent with the next tick). */
  private outbox: Buffer[] = [];

  constructor(options: FaxEngineOptions & { maxDatagram?: number }, addon: FaxAddon = loadFaxAddon()) {
    super(
      options,
      () =>
        new addon.T38Session({
          calling: options.calling,
          transmitFile: options.transmitFile,
          receiveFile: options.receiveFile,
          ident: options.ident,
          ecm: options.ecm ?? true,
          logLevel: options.logLevel ?? 0,
          maxDatagram: options.maxDatagram,
        }),
    );
  }

  /** One IFP packet from the far end (its UDPTL sequence number); one T.38 could not parse is dropped. */
  receive(ifp: Buffer, seq: number): void {
    const session = this.session;
    if (!session) return;
    session.rx(ifp, seq);
    this.outbox.push(...session.packets());
    this.drain();
  }

  /** `samples` of time went by (20 ms: 160): the IFP packets to send now. */
  tick(samples = FAX_FRAME_SAMPLES): Buffer[] {
    const session = this.session;
    if (!session) return this.take();
    session.tick(samples);
    this.outbox.push(...session.packets());
    // Taken before advance(): the last packets (a DCN) must go out even when T.30 ends now.
    const out = this.take();
    this.advance(samples);
    return out;
  }

  private take(): Buffer[] {
    const out = this.outbox;
    this.outbox = [];
    return out;
  }
}
