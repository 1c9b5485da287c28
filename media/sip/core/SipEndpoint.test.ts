import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { freePort } from "../../../scripts/lib/net.ts";
import { PbxDirectory } from "../../pbx/PbxDirectory.ts";
import { SipGateway } from "../../pbx/SipGateway.ts";
import { UdpTransport } from "../platform/UdpTransport.ts";
import { randomToken } from "./headers.ts";
import { SipRequest, type SipResponse } from "./message.ts";
import { SipEndpoint } from "./SipEndpoint.ts";

let client: SipEndpoint;
let gateway: SipGateway;

before(async () => {
  client = new SipEndpoint([await UdpTransport.listen("127.0.0.1", 0)]);
  gateway = await SipGateway.start({
    host: "127.0.0.1",
    udpPort: 0,
    tcpPort: 0,
    wsPort: 0,
    directory: new PbxDirectory(),
  });
});

after(async () => {
  await client.close();
  await gateway.close();
});

function request(method: string, uri: string, callId = `${randomToken()}@test`, cseq = 1): SipRequest {
  const r = new SipRequest(method, uri);
  r.append("From", `<sip:tester@127.0.0.1>;tag=${randomToken(4)}`);
  r.append("To", `<${uri}>`);
  r.append("Call-ID", callId);
  r.append("CSeq", `${cseq} ${method}`);
  return r;
}

function finalResponse(tx: ReturnType<SipEndpoint["request"]>): Promise<SipResponse> {
  return new Promise((resolve, reject) => {
    tx.on("response", (r) => {
      if (r.status >= 200) resolve(r);
    });
    tx.on("timeout", () => reject(new Error("timeout")));
  });
}

describe("client transactions", () => {
  it("sends OPTIONS and gets the final response", async () => {
    const port = gateway.transports.udp.local.port;
    const tx = client.request(request("OPTIONS", `sip:ping@127.0.0.1:${port}`), {
      transport: "udp",
      address: "127.0.0.1",
      port,
    });
    const response = await finalResponse(tx);
    assert.equal(response.status, 200);
  });

  it("acknowledges a non-2xx final to INVITE itself, which stops the server's retransmissions", async () => {
    const port = gateway.transports.udp.local.port;
    const invite = request("INVITE", `sip:nobody@127.0.0.1:${port}`);
    invite.append("Contact", "<sip:tester@127.0.0.1>");
    const tx = client.request(invite, { transport: "udp", address: "127.0.0.1", port });
    const statuses: number[] = [];
    tx.on("response", (r) => statuses.push(r.status));
    const final = await finalResponse(tx);
    assert.equal(final.status, 503); // this gateway has no media plane
    // Timer G would resend the 503 after 500 ms if our ACK had not arrived.
    await new Promise((r) => setTimeout(r, 1200));
    assert.deepEqual(statuses, [100, 503]);
    assert.equal(tx.state, "completed");
  });

  it("calls a sipp phone: INVITE, 200, ACK, BYE", async () => {
    const port = await freePort();
    const sipp: ChildProcess = spawn(
      "sipp",
      ["-sn", "uas", "-i", "127.0.0.1", "-p", String(port), "-m", "1", "-nostdin", "-timeout", "10"],
      {
        stdio: "ignore",
      },
    );
    const exited = new Promise<number | null>((resolve) => sipp.on("exit", resolve));
    await new Promise((r) => setTimeout(r, 500));
    const peer = { transport: "udp" as const, address: "127.0.0.1", port };
    const uri = `sip:service@127.0.0.1:${port}`;
    const callId = `${randomToken()}@test`;
    const invite = request("INVITE", uri, callId);
    invite.append("Contact", `<sip:tester@127.0.0.1:${client.transports[0]?.local.port}>`);
    invite.set("Content-Type", "application/sdp");
    invite.body = Buffer.from(
      "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\n",
    );
    const ok = await finalResponse(client.request(invite, peer));
    assert.equal(ok.status, 200);
    // The 2xx ACK and BYE belong to the dialog: To carries the callee's tag.
    const ack = request("ACK", uri, callId, 1);
    ack.set("From", invite.get("From") ?? "");
    ack.set("To", ok.get("To") ?? "");
    ack.prepend("Via", `SIP/2.0/UDP 127.0.0.1:${client.transports[0]?.local.port};branch=z9hG4bK${randomToken()}`);
    client.send(ack, peer);
    const bye = request("BYE", uri, callId, 2);
    bye.set("From", invite.get("From") ?? "");
    bye.set("To", ok.get("To") ?? "");
    assert.equal((await finalResponse(client.request(bye, peer))).status, 200);
    assert.equal(await exited, 0);
  });
});
