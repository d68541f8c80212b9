/** Which addresses a metadata document may be fetched from. */
import { expect, test } from "bun:test";
import { isPublicAddress } from "../../../src/auth/clients/address-policy";

const cases: Array<[string, boolean]> = [
  ["8.8.8.8", true],
  ["93.184.215.14", true],
  ["172.32.0.1", true],
  ["2606:4700:4700::1111", true],
  ["::ffff:8.8.8.8", true],
  ["127.0.0.1", false],
  ["127.255.0.9", false],
  ["0.0.0.0", false],
  ["10.20.30.40", false],
  ["172.16.0.1", false],
  ["172.31.255.255", false],
  ["192.168.1.1", false],
  ["169.254.169.254", false],
  ["100.64.0.1", false],
  ["224.0.0.1", false],
  ["255.255.255.255", false],
  ["::", false],
  ["::1", false],
  ["[::1]", false],
  ["::ffff:127.0.0.1", false],
  ["::ffff:10.0.0.1", false],
  ["64:ff9b::7f00:1", false],
  ["fd12:3456::1", false],
  ["fe80::1%eth0", false],
  ["ff02::1", false],
  ["2001:db8::1", false],
  ["not-an-address", false],
  ["", false],
];

for (const [address, expected] of cases) {
  test(`${address || "(empty)"} is ${expected ? "public" : "not public"}`, () => {
    expect(isPublicAddress(address)).toBe(expected);
  });
}
