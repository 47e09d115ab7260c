// TLS failures said plainly. Node reports an untrusted server certificate as a bare OpenSSL code on
// the connection error; users need to hear which endpoint it was and which parameter fixes it.

const CERTIFICATE_ERRORS =
  /^(SELF_SIGNED_CERT_IN_CHAIN|DEPTH_ZERO_SELF_SIGNED_CERT|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT(_LOCALLY)?|CERT_HAS_EXPIRED|CERT_NOT_YET_VALID|ERR_TLS_CERT_ALTNAME_INVALID)$/;

/**
 * When `error` is a certificate failure: an error naming `endpoint`, the reason and `remedy` (what to
 * set), with `error` as its cause. Otherwise undefined.
 */
export function untrustedCertificateError(
  error: unknown,
  endpoint: string,
  remedy = "set ssl_ca_certificate to the CA that signed it",
): Error | undefined {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: string };
  if (typeof code !== "string" || !CERTIFICATE_ERRORS.test(code)) return undefined;
  return new Error(`the TLS certificate of ${endpoint} is not trusted (${code}: ${message}); ${remedy}`, {
    cause: error,
  });
}
