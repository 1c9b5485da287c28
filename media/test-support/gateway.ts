import type { CallRecord } from "../../shared/index.ts";
import type { CallMediaCounts } from "../pbx/calls/Call.ts";
import type { PbxDirectory } from "../pbx/PbxDirectory.ts";
import { SipGateway, type SipGatewayOptions } from "../pbx/SipGateway.ts";
import { MediaEngine, type PortRange } from "../rtc/MediaEngine.ts";

export interface CallGateway {
  gateway: SipGateway;
  engine: MediaEngine;
  /** Every finished call, in order. */
  ended: { record: CallRecord; media: CallMediaCounts }[];
  close(): Promise<void>;
}

/**
 * A SIP gateway with calls anchored in a MediaEngine on 127.0.0.1, for call tests: SIP on free
 * ports, RTP in the test file's own range, call records collected in `ended`.
 */
export async function startCallGateway(
  options: { directory: PbxDirectory; rtpPorts: PortRange } & Partial<Omit<SipGatewayOptions, "media">>,
): Promise<CallGateway> {
  const { rtpPorts, ...rest } = options;
  const ended: CallGateway["ended"] = [];
  const engine = await MediaEngine.create({ mediaIp: "127.0.0.1", rtpPorts });
  const gateway = await SipGateway.start({
    host: "127.0.0.1",
    udpPort: 0,
    tcpPort: 0,
    wsPort: 0,
    ...rest,
    media: engine,
    onCallRecord: (_pbx, record, media) => ended.push({ record, media }),
  });
  return {
    gateway,
    engine,
    ended,
    async close() {
      await gateway.close();
      engine.close();
    },
  };
}
