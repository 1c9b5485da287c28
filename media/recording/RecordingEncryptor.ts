import { constants, publicEncrypt } from "node:crypto";
import { fromBER, Null, OctetString } from "asn1js";
import {
  AlgorithmIdentifier,
  Certificate,
  ContentInfo,
  EncryptedContentInfo,
  EnvelopedData,
  IssuerAndSerialNumber,
  KeyTransRecipientInfo,
  RecipientInfo,
} from "pkijs";
import { parseCertificatePem } from "../../shared/index.ts";

const OID = {
  data: "1.2.840.113549.1.7.1",
  envelopedData: "1.2.840.113549.1.7.3",
  /** rsaEncryption: RSAES-PKCS1-v1_5 key transport. */
  rsaEncryption: "1.2.840.113549.1.1.1",
  aes256Cbc: "2.16.840.1.101.3.4.1.42",
};

/**
 * Encrypts a recording to the customer's certificate as CMS EnvelopedData (RFC 5652), DER: what
 * `openssl smime -decrypt -binary -inform DER -inkey key.pem` opens. The content is AES-256-CBC
 * under a fresh key for every call of encrypt() (WebCrypto); that key travels RSA-encrypted to the
 * certificate's public key.
 *
 * Key transport is RSAES-PKCS1-v1_5, not OAEP: `openssl smime` goes through OpenSSL's PKCS#7 code,
 * which only knows rsaEncryption (an OAEP recipient fails there with "bad decrypt", measured with
 * OpenSSL 3.0), and it is what `openssl smime -encrypt` itself writes. WebCrypto has no PKCS#1 v1.5
 * encryption, so that one step uses node:crypto.
 */
export class RecordingEncryptor {
  private readonly certificate: Certificate;
  private readonly publicKeyPem: string;

  /** Throws (with the reason) when `certificatePem` is not an RSA X.509 certificate. */
  constructor(certificatePem: string) {
    parseCertificatePem(certificatePem);
    const body = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+)-----END CERTIFICATE-----/.exec(certificatePem)?.[1];
    const der = Buffer.from((body ?? "").replace(/\s+/g, ""), "base64");
    this.certificate = new Certificate({ schema: fromBER(new Uint8Array(der)).result });
    const spki = Buffer.from(this.certificate.subjectPublicKeyInfo.toSchema().toBER(false));
    this.publicKeyPem = `-----BEGIN PUBLIC KEY-----\n${spki.toString("base64")}\n-----END PUBLIC KEY-----\n`;
  }

  /** The whole of `plain` as a DER ContentInfo holding EnvelopedData. */
  async encrypt(plain: Uint8Array): Promise<Buffer> {
    const key = await crypto.subtle.generateKey({ name: "AES-CBC", length: 256 }, true, ["encrypt"]);
    const iv = crypto.getRandomValues(new Uint8Array(16));
    // Node's Buffers are never over a SharedArrayBuffer; the DOM typings cannot know that.
    const ciphertext = await crypto.subtle.encrypt({ name: "AES-CBC", iv }, key, plain as Uint8Array<ArrayBuffer>);
    const rawKey = new Uint8Array(await crypto.subtle.exportKey("raw", key));
    const encryptedKey = publicEncrypt(
      { key: this.publicKeyPem, padding: constants.RSA_PKCS1_PADDING },
      Buffer.from(rawKey),
    );
    rawKey.fill(0);

    const recipient = new KeyTransRecipientInfo({
      version: 0,
      rid: new IssuerAndSerialNumber({
        issuer: this.certificate.issuer,
        serialNumber: this.certificate.serialNumber,
      }),
      keyEncryptionAlgorithm: new AlgorithmIdentifier({ algorithmId: OID.rsaEncryption, algorithmParams: new Null() }),
      encryptedKey: new OctetString({ valueHex: encryptedKey }),
    });
    const enveloped = new EnvelopedData({
      version: 0,
      recipientInfos: [new RecipientInfo({ variant: 1, value: recipient })],
      encryptedContentInfo: new EncryptedContentInfo({
        contentType: OID.data,
        contentEncryptionAlgorithm: new AlgorithmIdentifier({
          algorithmId: OID.aes256Cbc,
          algorithmParams: new OctetString({ valueHex: iv }),
        }),
        encryptedContent: new OctetString({ valueHex: ciphertext }),
        // One primitive OCTET STRING: DER (a split one would be BER's constructed form).
        disableSplit: true,
      }),
    });
    const info = new ContentInfo({ contentType: OID.envelopedData, content: enveloped.toSchema() });
    return Buffer.from(info.toSchema().toBER(false));
  }
}
