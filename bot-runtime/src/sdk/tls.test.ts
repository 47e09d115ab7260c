import { describe, expect, it } from "vitest";
import { untrustedCertificateError } from "./tls.ts";

describe("untrustedCertificateError", () => {
  it("names the endpoint, Node's code and the remedy for a certificate failure", () => {
    const cause = Object.assign(new Error("self-signed certificate"), {
      code: "DEPTH_ZERO_SELF_SIGNED_CERT",
    });
    const error = untrustedCertificateError(cause, "amqps://broker:5671");
    expect(error?.message).toBe(
      "the TLS certificate of amqps://broker:5671 is not trusted (DEPTH_ZERO_SELF_SIGNED_CERT: self-signed certificate); set ssl_ca_certificate to the CA that signed it",
    );
    expect(error?.cause).toBe(cause);
    expect(untrustedCertificateError(cause, "imaps://mail:993", "set x")?.message).toMatch(/; set x$/);
  });

  it("leaves other failures alone", () => {
    expect(
      untrustedCertificateError(Object.assign(new Error("refused"), { code: "ECONNREFUSED" }), "x"),
    ).toBe(undefined);
    expect(untrustedCertificateError(Object.assign(new Error("n"), { code: 7 }), "x")).toBe(undefined);
    expect(untrustedCertificateError(undefined, "x")).toBe(undefined);
  });
});
