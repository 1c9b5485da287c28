import { fromBER } from "asn1js";
import { Certificate } from "pkijs";

export interface CertificateInfo {
  subject: string;
  notAfter: string;
  publicKeyAlgorithm: string;
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+)-----END CERTIFICATE-----/;

/**
 * Parses a PEM X.509 certificate (what `openssl req -x509` writes) and returns what a
 * person needs to recognise it, or throws an Error saying why it is not one.
 * Recordings are encrypted to the RSA key inside it, so only RSA keys are accepted.
 */
export function parseCertificatePem(pem: string): CertificateInfo {
  const match = PEM_CERT.exec(pem);
  if (!match?.[1])
    throw new Error("is not a PEM certificate (-----BEGIN CERTIFICATE----- … -----END CERTIFICATE-----)");
  let der: Uint8Array;
  try {
    der = Uint8Array.from(atob(match[1].replace(/\s+/g, "")), (c) => c.charCodeAt(0));
  } catch {
    throw new Error("has a certificate body that is not base64");
  }
  const asn1 = fromBER(der);
  if (asn1.offset === -1) throw new Error("is not a valid DER-encoded certificate");
  let cert: Certificate;
  try {
    cert = new Certificate({ schema: asn1.result });
  } catch {
    throw new Error("is not an X.509 certificate");
  }
  const algorithm = cert.subjectPublicKeyInfo.algorithm.algorithmId;
  if (algorithm !== "1.2.840.113549.1.1.1") throw new Error("must hold an RSA public key");
  const subject = cert.subject.typesAndValues.map((tv) => `${tv.type}=${String(tv.value.valueBlock.value)}`).join(", ");
  return { subject, notAfter: cert.notAfter.value.toISOString(), publicKeyAlgorithm: "RSA" };
}
