/**
 * A head (status or request line and header lines, as latin1 text: header
 * values may hold bytes above 0x7f) and the bytes that follow it, as one
 * buffer: one write, so the peer never sees a head without its body.
 */
export function headWithBytes(head: string, bytes?: Uint8Array): Buffer {
  const whole = Buffer.allocUnsafe(head.length + (bytes?.length ?? 0));
  whole.write(head, 0, "latin1");
  if (bytes) whole.set(bytes, head.length);
  return whole;
}
