import { EventEmitter } from "node:events";

interface ForwardAllEvents {
  /** A phone set or cleared forwarding by dial code: the edge must hear of it. */
  changed: [pbxId: string, routeId: string, destination: string | null];
}

/**
 * Call Forward All destinations, per PBX and call route. Dial codes change them here; the edge
 * keeps them (so they survive restarts and show in the portal) and sends them back on connect.
 */
export class ForwardAllState extends EventEmitter<ForwardAllEvents> {
  private readonly byPbx = new Map<string, Record<string, string>>();

  get(pbxId: string): Record<string, string> {
    return this.byPbx.get(pbxId) ?? {};
  }

  /** A change made on this node (a dial code). */
  set(pbxId: string, routeId: string, destination: string | null): void {
    const table = { ...this.get(pbxId) };
    if (destination === null) delete table[routeId];
    else table[routeId] = destination;
    this.byPbx.set(pbxId, table);
    this.emit("changed", pbxId, routeId, destination);
  }

  /** The edge's table for a PBX (on connect, and after any change anywhere). */
  load(pbxId: string, table: Record<string, string>): void {
    this.byPbx.set(pbxId, { ...table });
  }

  remove(pbxId: string): void {
    this.byPbx.delete(pbxId);
  }
}
