import { formatVia, parseVia, randomToken } from "./headers.ts";
import { type SipRequest, SipResponse } from "./message.ts";

export const REASONS: Record<number, string> = {
  100: "Trying",
  180: "Ringing",
  183: "Session Progress",
  200: "OK",
  202: "Accepted",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  407: "Proxy Authentication Required",
  408: "Request Timeout",
  415: "Unsupported Media Type",
  416: "Unsupported URI Scheme",
  420: "Bad Extension",
  423: "Interval Too Brief",
  480: "Temporarily Unavailable",
  481: "Call/Transaction Does Not Exist",
  482: "Loop Detected",
  483: "Too Many Hops",
  484: "Address Incomplete",
  486: "Busy Here",
  487: "Request Terminated",
  488: "Not Acceptable Here",
  500: "Server Internal Error",
  501: "Not Implemented",
  503: "Service Unavailable",
  505: "Version Not Supported",
  603: "Decline",
};

/**
 * A response to a request (RFC 3261 §8.2.6): Via, From, Call-ID and CSeq copied, a To tag added
 * for anything but 100, and the top Via stamped with received/rport (RFC 3581) so the answer
 * finds a phone behind NAT.
 */
export function createResponse(
  request: SipRequest,
  status: number,
  reason = REASONS[status] ?? "Unknown",
  source?: { address: string; port: number },
  toTag?: string,
): SipResponse {
  const response = new SipResponse(status, reason);
  const vias = request.getAll("Via");
  vias.forEach((via, i) => {
    let value = via;
    if (i === 0 && source) {
      const parsed = parseVia(via);
      if (parsed) {
        if (parsed.host !== source.address) parsed.params.received = source.address;
        if ("rport" in parsed.params) parsed.params.rport = String(source.port);
        value = formatVia(parsed);
      }
    }
    response.append("Via", value);
  });
  const from = request.get("From");
  if (from) response.append("From", from);
  const to = request.get("To") ?? "";
  response.append("To", status > 100 && !/;\s*tag=/i.test(to) ? `${to};tag=${toTag ?? randomToken()}` : to);
  response.append("Call-ID", request.callId);
  const cseq = request.get("CSeq");
  if (cseq) response.append("CSeq", cseq);
  response.append("Server", "EdgePBX");
  return response;
}
