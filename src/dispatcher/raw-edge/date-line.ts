/** The Date header line of the raw edge's answers, remade once a second instead of per response. */
let line = "";
let second = -1;

export function currentDateLine(): string {
  const now = Date.now();
  const current = Math.floor(now / 1000);
  if (current !== second) {
    second = current;
    line = `date: ${new Date(now).toUTCString()}\r\n`;
  }
  return line;
}
