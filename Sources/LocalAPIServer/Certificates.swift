import Crypto
import Foundation
import X509

/// A throwaway PKI like kind's: a CA, a server certificate for 127.0.0.1/::1/localhost, and an admin
/// client certificate (`CN=kubernetes-admin`, `O=system:masters`). Keys are P-256, PEM (PKCS#8).
public struct GeneratedCertificates: Sendable {
    public let caPEM: String
    public let serverCertificatePEM: String
    public let serverKeyPEM: String
    public let clientCertificatePEM: String
    public let clientKeyPEM: String

    /// Generates a fresh CA and the certificates it signs, valid for a year.
    public static func generate() throws -> GeneratedCertificates {
        let now = Date()
        let notBefore = now.addingTimeInterval(-3600)
        let notAfter = now.addingTimeInterval(365 * 86400)
        let caKey = P256.Signing.PrivateKey()
        let caName = try DistinguishedName { CommonName("kubernetes") }
        let ca = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: .init(caKey.publicKey), notValidBefore: notBefore, notValidAfter: notAfter,
            issuer: caName, subject: caName, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: nil))
                Critical(KeyUsage(digitalSignature: true, keyCertSign: true))
                SubjectKeyIdentifier(hash: .init(caKey.publicKey))
            },
            issuerPrivateKey: .init(caKey))

        let serverKey = P256.Signing.PrivateKey()
        let server = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: .init(serverKey.publicKey), notValidBefore: notBefore, notValidAfter: notAfter,
            issuer: caName, subject: try DistinguishedName { CommonName("kube-apiserver") }, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(KeyUsage(digitalSignature: true, keyEncipherment: true))
                try ExtendedKeyUsage([.serverAuth])
                SubjectAlternativeNames([
                    .dnsName("localhost"), .dnsName("kubernetes"), .dnsName("kubernetes.default"),
                    .ipAddress(.init(contentBytes: [127, 0, 0, 1])),
                    .ipAddress(.init(contentBytes: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1])),
                ])
            },
            issuerPrivateKey: .init(caKey))

        let clientKey = P256.Signing.PrivateKey()
        let client = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: .init(clientKey.publicKey), notValidBefore: notBefore, notValidAfter: notAfter,
            issuer: caName,
            subject: try DistinguishedName {
                OrganizationName("system:masters")
                CommonName("kubernetes-admin")
            },
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(KeyUsage(digitalSignature: true, keyEncipherment: true))
                try ExtendedKeyUsage([.clientAuth])
            },
            issuerPrivateKey: .init(caKey))

        return GeneratedCertificates(
            caPEM: try ca.serializeAsPEM().pemString + "\n",
            serverCertificatePEM: try server.serializeAsPEM().pemString + "\n",
            serverKeyPEM: serverKey.pemRepresentation + "\n",
            clientCertificatePEM: try client.serializeAsPEM().pemString + "\n",
            clientKeyPEM: clientKey.pemRepresentation + "\n")
    }
}
