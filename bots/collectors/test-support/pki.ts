// A throw-away PKI for the HTTP collectors' TLS tests, made with openssl: a CA, a server certificate for
// localhost and 127.0.0.1, and a client certificate (with its key in the same PEM file, as
// ssl_client_certificate takes it), all signed by the CA.
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface TestPki {
  /** The CA certificate (PEM file). */
  caFile: string;
  ca: Buffer;
  /** Server certificate and key (PEM). */
  serverCert: Buffer;
  serverKey: Buffer;
  /** Client certificate followed by its key (PEM file); its subject CN is "petrel-test-client". */
  clientFile: string;
}

export function createTestPki(dir: string): TestPki {
  const file = (name: string) => join(dir, name);
  const openssl = (...args: string[]) =>
    execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
  const ecKey = (name: string) =>
    openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", file(name));
  const sign = (name: string, subject: string, extensions: string[]) => {
    ecKey(`${name}.key`);
    openssl("req", "-new", "-key", `${name}.key`, "-subj", subject, "-out", `${name}.csr`);
    writeFileSync(file(`${name}.ext`), extensions.join("\n"));
    openssl(
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      "ca.crt",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-days",
      "2",
      "-extfile",
      `${name}.ext`,
      "-out",
      `${name}.crt`,
    );
  };
  ecKey("ca.key");
  openssl(
    "req",
    "-x509",
    "-new",
    "-key",
    "ca.key",
    "-subj",
    "/CN=petrel-test-ca",
    "-days",
    "2",
    "-out",
    "ca.crt",
  );
  sign("server", "/CN=localhost", [
    "subjectAltName=DNS:localhost,IP:127.0.0.1",
    "basicConstraints=CA:FALSE",
    "extendedKeyUsage=serverAuth",
  ]);
  sign("client", "/CN=petrel-test-client", ["basicConstraints=CA:FALSE", "extendedKeyUsage=clientAuth"]);
  writeFileSync(
    file("client.pem"),
    Buffer.concat([readFileSync(file("client.crt")), readFileSync(file("client.key"))]),
  );
  return {
    caFile: file("ca.crt"),
    ca: readFileSync(file("ca.crt")),
    serverCert: readFileSync(file("server.crt")),
    serverKey: readFileSync(file("server.key")),
    clientFile: file("client.pem"),
  };
}
