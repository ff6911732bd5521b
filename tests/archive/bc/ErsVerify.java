// SPDX-License-Identifier: Apache-2.0
// The independent oracle of tests/archive/evidence_bc_test.cpp: BouncyCastle's
// RFC 4998 implementation (org.bouncycastle.tsp.ers, Debian libbcpkix-java)
// verifies evidence records made by Enclave.
//
// Usage: java ErsVerify <tsa-certificate.der> <manifest>
// Each manifest line is "<record.der>\t<data file>". For each line it prints
// "<index> ok" when BouncyCastle accepts the record for that data, else
// "<index> rejected: <reason>". Accepting means:
//   - ERSEvidenceRecord.validatePresent(data, now): the data's hash (combined
//     with the earlier chains after a hash-tree renewal) is in the last
//     chain's first reduced hash tree and leads to its time-stamped root;
//   - ERSEvidenceRecord.validate(verifier): the last chain's earlier time
//     stamps are covered by its last one, whose signature verifies with the
//     TSA certificate (TimeStampToken.validate: ESS signing certificate,
//     critical timeStamping EKU, validity at genTime);
//   - every time stamp of every chain validates with the TSA certificate.
// Exit status 0 when every line was processed, 2 on a usage error.
import java.nio.file.Files;
import java.nio.file.Paths;
import java.security.Security;
import java.util.Date;
import java.util.List;

import org.bouncycastle.asn1.tsp.ArchiveTimeStamp;
import org.bouncycastle.asn1.tsp.ArchiveTimeStampChain;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cms.SignerInformationVerifier;
import org.bouncycastle.cms.jcajce.JcaSimpleSignerInfoVerifierBuilder;
import org.bouncycastle.jce.provider.BouncyCastleProvider;
import org.bouncycastle.operator.DigestCalculatorProvider;
import org.bouncycastle.operator.jcajce.JcaDigestCalculatorProviderBuilder;
import org.bouncycastle.tsp.TimeStampToken;
import org.bouncycastle.tsp.ers.ERSByteData;
import org.bouncycastle.tsp.ers.ERSEvidenceRecord;

public final class ErsVerify {
    private ErsVerify() {}

    public static void main(String[] args) throws Exception {
        if (args.length != 2) {
            System.err.println("usage: ErsVerify <tsa-certificate.der> <manifest>");
            System.exit(2);
        }
        Security.addProvider(new BouncyCastleProvider());
        X509CertificateHolder cert = new X509CertificateHolder(Files.readAllBytes(Paths.get(args[0])));
        SignerInformationVerifier verifier =
            new JcaSimpleSignerInfoVerifierBuilder().setProvider("BC").build(cert);
        DigestCalculatorProvider digests =
            new JcaDigestCalculatorProviderBuilder().setProvider("BC").build();
        List<String> lines = Files.readAllLines(Paths.get(args[1]));
        for (int i = 0; i < lines.size(); i++) {
            String[] f = lines.get(i).split("\t");
            try {
                byte[] record = Files.readAllBytes(Paths.get(f[0]));
                byte[] data = Files.readAllBytes(Paths.get(f[1]));
                ERSEvidenceRecord er = new ERSEvidenceRecord(record, digests);
                er.validatePresent(new ERSByteData(data), new Date());
                er.validate(verifier);
                for (ArchiveTimeStampChain chain :
                     er.toASN1Structure().getArchiveTimeStampSequence().getArchiveTimeStampChains()) {
                    for (ArchiveTimeStamp ats : chain.getArchiveTimestamps()) {
                        new TimeStampToken(ats.getTimeStamp()).validate(verifier);
                    }
                }
                System.out.println(i + " ok");
            } catch (Exception e) {
                System.out.println(i + " rejected: " + e);
            }
        }
    }
}
