// Differential test: every export against Python 3.11 `ipaddress` and IntelMQ 3.5's IPAddress /
// IPNetwork harmonization types, run in the oracle venv on one shared corpus.
import { describe, expect, it } from "vitest";
import {
  PY_WIRE_DECODE,
  type PyWire,
  picker,
  seededRandom,
  toPyWire,
} from "../../../test-support/corpus-tools.ts";
import { runOracle } from "../../../test-support/python-oracle.ts";
import {
  canonicalIp,
  canonicalNetwork,
  ipFromInteger,
  isValidIpAddressValue,
  isValidIpNetworkValue,
  sanitizeIpAddress,
  sanitizeIpNetwork,
} from "./ipaddress.ts";

const SCRIPT = `
import sys, json, re, ipaddress
from intelmq.lib.harmonization import IPAddress, IPNetwork
${PY_WIRE_DECODE}
def attempt(f):
    try:
        return f()
    except Exception:
        return None

def network(v, strict):
    n = ipaddress.ip_network(v, strict)
    return [str(n), str(n.num_addresses), str(n.network_address)]

for line in sys.stdin:
    v = decode(json.loads(line))
    out = {'sanIp': attempt(lambda: IPAddress.sanitize(v)), 'sanNet': attempt(lambda: IPNetwork.sanitize(v))}
    if isinstance(v, str):
        out['ip'] = attempt(lambda: str(ipaddress.ip_address(v)))
        out['netStrict'] = attempt(lambda: network(v, True))
        out['netLoose'] = attempt(lambda: network(v, False))
        out['validIp'] = attempt(lambda: IPAddress.is_valid(v)) is True
        out['validNet'] = attempt(lambda: IPNetwork.is_valid(v)) is True
        if re.fullmatch(r'-?[0-9]+', v):
            out['fromInt'] = attempt(lambda: str(ipaddress.ip_address(int(v))))
    elif type(v) is int:
        out['fromInt'] = attempt(lambda: str(ipaddress.ip_address(v)))
    print(json.dumps(out))
`;

interface OracleOut {
  sanIp: string | null;
  sanNet: string | null;
  ip?: string | null;
  netStrict?: [string, string, string] | null;
  netLoose?: [string, string, string] | null;
  validIp?: boolean;
  validNet?: boolean;
  fromInt?: string | null;
}

const HANDWRITTEN: unknown[] = [
  // IPv4
  "1.2.3.4",
  "0.0.0.0",
  "255.255.255.255",
  "256.1.1.1",
  "1.2.3.256",
  "1.2.3.999",
  "1.2.3.1000",
  "01.2.3.4",
  "1.02.3.4",
  "1.2.3.04",
  "1.2.3.00",
  "0.0.0.00",
  "00.0.0.0",
  "1.2.3",
  "1.2",
  "1",
  "1.2.3.4.5",
  "1.2.3.",
  ".1.2.3",
  "1..2.3",
  "1.2.3.4.",
  "1.2.3.-4",
  "1.2.3.+4",
  "+1.2.3.4",
  "1.2.3.0x4",
  "0x1.2.3.4",
  "1.2.3.a",
  "127.0.0.1",
  "10.0.0.1",
  "192.168.0.1",
  "١.٢.٣.٤",
  "１.２.３.４",
  "1.2.3.4\u0000",
  "1.2.3.4 ",
  " 1.2.3.4",
  "\t1.2.3.4\n",
  "\u00a01.2.3.4\u3000",
  "\u001c1.2.3.4\u001f",
  "\u200b1.2.3.4",
  "\ufeff1.2.3.4",
  "1.2.3.4\u0085",
  "1 .2.3.4",
  "1,2,3,4",
  "1.2.3.4:80",
  "[1.2.3.4]",
  "1.2.3.4%eth0",
  "1.2.3.4%",
  // IPv6
  "::",
  ":::",
  "::::",
  "::1",
  "1::",
  "1::1",
  ":1::1",
  "1::1:",
  ":1",
  "1:",
  "::1:",
  ":",
  "1:2:3:4:5:6:7:8",
  "1:2:3:4:5:6:7:8:9",
  "1:2:3:4:5:6:7",
  "1:2:3:4:5:6:7::",
  "::2:3:4:5:6:7:8",
  "1::3:4:5:6:7:8",
  "1::2:3:4:5:6:7:8",
  "1:2:3:4:5:6:7:8::",
  "::1:2:3:4:5:6:7:8",
  "1:2:3:4::5:6:7:8",
  "1::2::3",
  "1:::2",
  "2001:db8::1",
  "2001:DB8::1",
  "2001:Db8:0:0:0:0:0:1",
  "2001:0db8:0000:0000:0000:0000:0000:0001",
  "2001:db8:0:0:1:0:0:1",
  "2001:db8::1:0:0:1",
  "2001:0:0:1:0:0:0:1",
  "0:0:0:0:0:0:0:0",
  "0:0:0:0:0:0:0:1",
  "1:0:0:0:0:0:0:0",
  "0:1:0:1:0:1:0:1",
  "1:0:1:0:1:0:1:0",
  "0:0:1:0:0:1:0:0",
  "1:0:0:1:1:0:0:1",
  "00000::1",
  "0000::1",
  "12345::1",
  "fffff::",
  "ffff::",
  "FFFF:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF",
  "g::1",
  "::g",
  "fe80::1",
  "fe80::1%eth0",
  "fe80::1%1",
  "fe80::1%",
  "fe80::1%%",
  "fe80::1%a%b",
  "fe80::1%eth 0",
  "fe80::1%é",
  "fe80::1%/64",
  "fe80::1%eth0/64",
  "fe80::1%eth0/128",
  "fe80::%eth0/64",
  "fe80::%eth0/10",
  "fe80::1%a/b",
  "%eth0",
  "::%0",
  "::ffff:1.2.3.4",
  "::FFFF:1.2.3.4",
  "::ffff:0:1.2.3.4",
  "::1.2.3.4",
  "::0.0.0.0",
  "::ffff:0.0.0.0",
  "0:0:0:0:0:ffff:1.2.3.4",
  "1:2:3:4:5:6:1.2.3.4",
  "1:2:3:4:5:6:7:1.2.3.4",
  "1:2:3:4:5:1.2.3.4",
  "1::1.2.3.4",
  "1:2:3:4:5::1.2.3.4",
  "1:2:3:4:5:6::1.2.3.4",
  "::1.2.3",
  "::1.2.3.4.5",
  "::01.2.3.4",
  "::256.2.3.4",
  "::1.2.3.4:1",
  "::1.2.3.4::",
  "1.2.3.4::",
  "1.2.3.4::1",
  "a:1.2.3.4",
  ":1.2.3.4",
  "::a1.2.3.4",
  "::1.2.3.4%eth0",
  "::ffff:1.2.3.4%x",
  "64:ff9b::1.2.3.4",
  "2002:102:304::",
  "2001::",
  "2001:db8::",
  "::ffff:102:304",
  "::1:2",
  " ::1 ",
  "::1\n",
  "[::1]",
  "::1/128",
  "::/0",
  "::/128",
  "::/129",
  "::1/127",
  "::/00128",
  "::/+8",
  "::/ 8",
  "::/8 ",
  "::/-0",
  "::/1.0",
  "::/ffff::",
  "2001:db8::/32",
  "2001:db8::1/32",
  "2001:db8::/48",
  "2001:db8::/64",
  "2001:db8:1::/48",
  "ff00::/8",
  "ff01::1/8",
  "::ffff:1.2.3.4/120",
  "::ffff:1.2.3.0/120",
  "::ffff:1.2.3.4/96",
  // IPv4 networks
  "1.2.3.0/24",
  "1.2.3.4/24",
  "1.2.3.4/32",
  "1.2.3.4/31",
  "1.2.3.4/33",
  "1.2.3.4/0",
  "0.0.0.0/0",
  "0.0.0.0/8",
  "10.0.0.0/8",
  "10.1.0.0/8",
  "192.168.1.0/24",
  "192.168.1.128/25",
  "192.168.1.1/25",
  "1.2.3.0/024",
  "1.2.3.0/0024",
  "1.2.3.0/+24",
  "1.2.3.0/-24",
  "1.2.3.0/ 24",
  "1.2.3.0/24 ",
  "1.2.3.0/24.0",
  "1.2.3.0/٢٤",
  "1.2.3.0/",
  "/24",
  "/",
  "1.2.3.0//24",
  "1.2.3.0/24/24",
  "1.2.3.0/255.255.255.0",
  "1.2.3.4/255.255.255.0",
  "1.2.3.0/0.0.0.255",
  "1.2.3.4/0.0.0.255",
  "1.2.3.4/255.255.255.255",
  "1.2.3.4/0.0.0.0",
  "0.0.0.0/0.0.0.0",
  "1.2.3.4/255.0.255.0",
  "1.2.3.4/0.255.0.0",
  "1.2.3.4/255.255.255.254",
  "1.2.3.4/0.0.0.1",
  "1.2.3.4/128.0.0.0",
  "1.2.3.4/127.255.255.255",
  "1.2.3.4/255.255.255.00",
  "1.2.3.4/255.255.255",
  "1.2.3.4%x/32",
  "1.2.3.4/32%x",
  "1.2.3.4%x/24",
  "1.2.3.4/24%x",
  "  1.2.3.0/24  ",
  "1.2.3.0 /24",
  // Integers as strings
  "0",
  "1",
  "-1",
  "-0",
  "00",
  "01",
  "+1",
  "16909060",
  "016909060",
  "+16909060",
  " 16909060 ",
  "16909060.0",
  "1_6909060",
  "١٦٩٠٩٠٦٠",
  "4294967295",
  "4294967296",
  "340282366920938463463374607431768211455",
  "340282366920938463463374607431768211456",
  "42540766411282592856903984951653826561",
  "18446744073709551616",
  "99999999999999999999999999999999999999999",
  "1".repeat(4400),
  "0x01020304",
  // Garbage
  "",
  " ",
  "\t\n",
  "\u00a0",
  "localhost",
  "example.com",
  "None",
  "null",
  "True",
  "1.2.3.4,5.6.7.8",
  "1.2.3.4 5.6.7.8",
  "::1 ::2",
  "%",
  "%%",
  "/32",
  "\ud800",
  "::\ud800",
  "fe80::1%\ud800",
  "😀",
  "1.2.3.4😀",
  // Non-strings
  0,
  -0,
  1,
  -1,
  16909060,
  4294967295,
  4294967296,
  2 ** 53,
  2 ** 64,
  2 ** 70,
  1e20,
  1e21,
  1e300,
  1.5,
  16909060.5,
  -1.5,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
  true,
  false,
  null,
  [],
  [1],
  ["1.2.3.4"],
  {},
  { a: 1 },
  { ip: "1.2.3.4" },
];

function hex16(rnd: () => number): number {
  const r = rnd();
  // Favour zero groups so compression and tie-breaking get exercised.
  if (r < 0.4) return 0;
  if (r < 0.5) return Math.floor(rnd() * 16);
  return Math.floor(rnd() * 0x10000);
}

function generated(): string[] {
  const rnd = seededRandom(42);
  const pick = picker(rnd);
  const octet = () => Math.floor(rnd() * 256);
  const out: string[] = [];
  for (let k = 0; k < 150; k++) {
    const o = [octet(), octet(), octet(), octet()];
    const ip4 = o.join(".");
    out.push(ip4);
    const variant = Math.floor(rnd() * 9);
    if (variant === 0) out.push(o.map((x, i) => (i === k % 4 ? `0${x}` : String(x))).join("."));
    if (variant === 1) out.push(o.map((x, i) => (i === k % 4 ? String(x + 256) : String(x))).join("."));
    if (variant === 2) out.push(`${ip4}/${Math.floor(rnd() * 34)}`);
    if (variant === 3) {
      const prefix = Math.floor(rnd() * 33);
      const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
      const dotted = [mask >>> 24, (mask >>> 16) & 255, (mask >>> 8) & 255, mask & 255].join(".");
      const host = (~mask >>> 0).toString();
      const hostDotted = [host, 0, 0, 0].map((_, i) => ((~mask >>> 0) >>> (24 - 8 * i)) & 255).join(".");
      const net = o.map((x, i) => x & ((mask >>> (24 - 8 * i)) & 255)).join(".");
      out.push(`${ip4}/${dotted}`, `${net}/${dotted}`, `${ip4}/${hostDotted}`, `${net}/${hostDotted}`);
    }
    if (variant === 4) out.push(`${ip4}/${Math.floor(rnd() * 2 ** 32)}`, `${ip4}/${o.reverse().join(".")}`);
    if (variant === 5) out.push(String((((o[0]! << 24) >>> 0) + (o[1]! << 16) + (o[2]! << 8) + o[3]!) >>> 0));
    if (variant === 6)
      out.push(`${pick([" ", "\t", "\u00a0", "\u2000"])}${ip4}${pick(["", " ", "\n", "\u3000"])}`);
    if (variant === 7) out.push(o.slice(0, 3).join("."), `${ip4}.${octet()}`);
    if (variant === 8) out.push(`${ip4}%${pick(["eth0", "1", "", "x/1"])}`);
  }
  for (let k = 0; k < 260; k++) {
    const groups = Array.from({ length: 8 }, () => hex16(rnd));
    const full = groups.map((g) => g.toString(16)).join(":");
    const padded = groups.map((g) => g.toString(16).padStart(4, "0")).join(":");
    const variant = Math.floor(rnd() * 12);
    out.push(variant % 2 === 0 ? full : padded);
    if (variant === 0) out.push(full.toUpperCase());
    if (variant === 1) {
      // Compress an arbitrary zero-or-not run, which may or may not be a legal "::".
      const a = Math.floor(rnd() * 8);
      const b = a + Math.floor(rnd() * (9 - a));
      out.push(
        `${groups
          .slice(0, a)
          .map((g) => g.toString(16))
          .join(":")}::${groups
          .slice(b)
          .map((g) => g.toString(16))
          .join(":")}`,
      );
    }
    if (variant === 2)
      out.push(
        `${groups
          .slice(0, 6)
          .map((g) => g.toString(16))
          .join(":")}:${octet()}.${octet()}.${octet()}.${octet()}`,
      );
    if (variant === 3)
      out.push(
        `::ffff:${octet()}.${octet()}.${octet()}.${octet()}`,
        `::${octet()}.${octet()}.${octet()}.${octet()}`,
      );
    if (variant === 4) out.push(`${full}/${Math.floor(rnd() * 131)}`);
    if (variant === 5) {
      const prefix = Math.floor(rnd() * 129);
      const kept = groups.map((g, i) => {
        const bits = Math.max(0, Math.min(16, prefix - 16 * i));
        return bits === 0 ? 0 : g & ((0xffff << (16 - bits)) & 0xffff);
      });
      out.push(`${kept.map((g) => g.toString(16)).join(":")}/${prefix}`);
    }
    if (variant === 6) out.push(`${full}%${pick(["eth0", "1", "", "%", "a b", "é"])}`);
    if (variant === 7) out.push(`${full}%eth0/${pick([64, 128, 10, 127])}`);
    if (variant === 8) out.push(`${full}:1`, full.replace(/:/, "::"));
    if (variant === 9) out.push(padded.replace(/^0/, "00"), full.replace(/[0-9a-f]$/, "g"));
    if (variant === 10)
      out.push(`${pick([" ", "\t", "\u00a0", "\u001c"])}${full}${pick(["", " ", "\u2029"])}`);
    if (variant === 11) {
      let v = 0n;
      for (const g of groups) v = (v << 16n) | BigInt(g);
      out.push(v.toString());
    }
  }
  return out;
}

function numbers(): unknown[] {
  const rnd = seededRandom(99);
  const out: unknown[] = [];
  for (let k = 0; k < 40; k++)
    out.push(Math.floor(rnd() * 2 ** 32), Math.floor(rnd() * 2 ** 52) * 2 ** Math.floor(rnd() * 20));
  for (let k = 0; k < 20; k++) out.push(-Math.floor(rnd() * 1000), rnd() * 1000);
  return out;
}

type Mismatch = { fn: string; input: unknown; python: unknown; got: unknown };

function netTuple(n: ReturnType<typeof canonicalNetwork>): [string, string, string] | null {
  return n === undefined ? null : [n.text, n.numAddresses.toString(), n.networkAddress];
}

describe("ipaddress emulation against Python ipaddress and IntelMQ IPAddress/IPNetwork", () => {
  it("agrees on every export over the corpus", async () => {
    const corpus = [...HANDWRITTEN, ...generated(), ...numbers()];
    const oracle = await runOracle<PyWire, OracleOut>(SCRIPT, corpus.map(toPyWire));
    const counts = new Map<string, { total: number; agree: number }>();
    const mismatches: Mismatch[] = [];
    const check = (fn: string, input: unknown, python: unknown, got: unknown) => {
      const c = counts.get(fn) ?? { total: 0, agree: 0 };
      c.total++;
      if (JSON.stringify(python) === JSON.stringify(got)) c.agree++;
      else mismatches.push({ fn, input, python, got });
      counts.set(fn, c);
    };
    corpus.forEach((input, k) => {
      const py = oracle[k]!;
      check("sanitizeIpAddress", input, py.sanIp, sanitizeIpAddress(input) ?? null);
      check("sanitizeIpNetwork", input, py.sanNet, sanitizeIpNetwork(input) ?? null);
      if (typeof input === "string") {
        check("canonicalIp", input, py.ip, canonicalIp(input) ?? null);
        check("canonicalNetwork(strict)", input, py.netStrict, netTuple(canonicalNetwork(input, true)));
        check("canonicalNetwork(loose)", input, py.netLoose, netTuple(canonicalNetwork(input, false)));
        check("isValidIpAddressValue", input, py.validIp, isValidIpAddressValue(input));
        check("isValidIpNetworkValue", input, py.validNet, isValidIpNetworkValue(input));
        if (/^-?[0-9]+$/.test(input))
          check("ipFromInteger", input, py.fromInt, ipFromInteger(BigInt(input)) ?? null);
      } else if (py.fromInt !== undefined) {
        check("ipFromInteger", input, py.fromInt, ipFromInteger(BigInt(String(input))) ?? null);
      }
    });
    console.log(`ipaddress corpus: ${corpus.length} inputs`);
    for (const [fn, c] of counts) console.log(`  ${fn}: ${c.agree}/${c.total} agree`);
    expect(mismatches.slice(0, 30)).toEqual([]);
    expect(corpus.length).toBeGreaterThanOrEqual(900);
    // The corpus must reach both outcomes of every predicate and sanitizer.
    const outcomes = (key: keyof OracleOut) =>
      new Set(oracle.map((o) => o[key] === null || o[key] === false));
    for (const key of [
      "sanIp",
      "sanNet",
      "ip",
      "netStrict",
      "netLoose",
      "validIp",
      "validNet",
      "fromInt",
    ] as const) {
      expect(outcomes(key)).toEqual(new Set([true, false]));
    }
  });
});
