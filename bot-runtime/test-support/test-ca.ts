// A throw-away certificate authority for tests of TLS: a CA, a server certificate it signed for
// localhost and 127.0.0.1, and optionally client certificates, made with openssl in a directory of the
// caller's (deleted with it). The TLS servers of the tests, the HTTP collectors' tests and the test
// control plane (serving and admin client certificates) all use it.
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface TestCertificates {
  /** The CA certificate (PEM file): what a client trusts. */
  caFile: string;
  /** The server certificate (PEM file), signed by the CA. */
  certFile: string;
  /** The server certificate's private key (PEM file, unencrypted). */
  keyFile: string;
  /** The CA certificate's PEM text. */
  ca: Buffer;
  /** Client certificates by name: certificate, key, and both in one PEM file. */
  clients: Record<string, { certFile: string; keyFile: string; pemFile: string }>;
}

/**
 * Creates `ca.crt`, `server.crt` and `server.key` in `dir`. RSA keys: every TLS server of the tests
 * (dovecot, RabbitMQ, vsftpd) takes them. `hosts` are the server certificate's names (DNS names or IP
 * addresses); the default is localhost and 127.0.0.1.
 */
export function createTestCertificates(
  dir: string,
  hosts: readonly string[] = ["localhost", "127.0.0.1"],
  /** Client certificates to make: name → subject, e.g. { admin: "/O=system:masters/CN=admin" }. */
  clients: Readonly<Record<string, string>> = {},
): TestCertificates {
  const file = (name: string) => join(dir, name);
  const openssl = (args: string[]) => {
    try {
      execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
    } catch (error) {
      throw new Error(`openssl ${args[0]} failed (is openssl installed?): ${(error as Error).message}`);
    }
  };
  const key = (name: string) =>
    openssl(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", file(name)]);
  key("ca.key");
  openssl(
    ["req", "-x509", "-new", "-key", "ca.key", "-subj", "/CN=petrel-test-ca", "-days", "2"].concat([
      "-out",
      "ca.crt",
    ]),
  );
  key("server.key");
  openssl(["req", "-new", "-key", "server.key", "-subj", `/CN=${hosts[0]}`, "-out", "server.csr"]);
  const names = hosts.map((h) => (/^[\d.]+$|:/.test(h) ? `IP:${h}` : `DNS:${h}`)).join(",");
  writeFileSync(
    file("server.ext"),
    [
      `subjectAltName=${names}`,
      "basicConstraints=CA:FALSE",
      "keyUsage=digitalSignature,keyEncipherment",
      "extendedKeyUsage=serverAuth",
    ].join("\n"),
  );
  openssl([
    "x509",
    "-req",
    "-in",
    "server.csr",
    "-CA",
    "ca.crt",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-days",
    "2",
    "-extfile",
    "server.ext",
    "-out",
    "server.crt",
  ]);
  const made: TestCertificates["clients"] = {};
  for (const [name, subject] of Object.entries(clients)) {
    const base = `client-${name}`;
    key(`${base}.key`);
    openssl(["req", "-new", "-key", `${base}.key`, "-subj", subject, "-out", `${base}.csr`]);
    writeFileSync(
      file(`${base}.ext`),
      "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth\n",
    );
    openssl([
      "x509",
      "-req",
      "-in",
      `${base}.csr`,
      "-CA",
      "ca.crt",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-days",
      "2",
      "-extfile",
      `${base}.ext`,
      "-out",
      `${base}.crt`,
    ]);
    writeFileSync(
      file(`${base}.pem`),
      Buffer.concat([readFileSync(file(`${base}.crt`)), readFileSync(file(`${base}.key`))]),
    );
    made[name] = {
      certFile: file(`${base}.crt`),
      keyFile: file(`${base}.key`),
      pemFile: file(`${base}.pem`),
    };
  }
  return {
    caFile: file("ca.crt"),
    certFile: file("server.crt"),
    keyFile: file("server.key"),
    ca: readFileSync(file("ca.crt")),
    clients: made,
  };
}
