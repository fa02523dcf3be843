#include "otpgate/pskc.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "otpgate/base32.h"
#include "otpgate/otp.h"
#include "test_util.h"

namespace otpgate {
namespace {

const char kRfcSecretHex[] = "3132333435363738393031323334353637383930";

std::string ReadData(const std::string& name) {
  std::ifstream in(std::string(OTPGATE_TEST_DATA_DIR) + "/pskc/" + name, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

PskcOptions WithKey(const char* hex) {
  PskcOptions options;
  options.preshared_key = HexDecode(hex).value();
  return options;
}

PskcOptions WithPassword(const char* password) {
  PskcOptions options;
  options.password = password;
  return options;
}

void ExpectRfcToken(const std::pair<TokenSpec, SecretBytes>& token, const std::string& id) {
  EXPECT_EQ(token.first.credential_id, id);
  EXPECT_EQ(token.first.params.kind, OtpKind::kHotp);
  EXPECT_EQ(token.first.params.digits, 8);
  EXPECT_EQ(HexEncode(token.second.span()), kRfcSecretHex);
  // RFC 4226 Appendix D, 8-digit form: counter 0 -> 84755224.
  EXPECT_EQ(
      GenerateHotp(HashAlgorithm::kSha1, token.second, token.first.initial_counter, 8).value(),
      "84755224");
}

TEST(PskcTest, Figure2PlainButSecretTooShort) {
  PskcOptions options;
  options.id_from_key_id = true;  // figure 2 has no SerialNo
  auto parsed = ParsePskcText(ReadData("figure2.pskcxml"), options);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_TRUE(parsed->tokens.empty());
  ASSERT_EQ(parsed->rejected.size(), 1u);
  EXPECT_NE(parsed->rejected[0].reason.find("4 bytes"), std::string::npos)
      << parsed->rejected[0].reason;
  auto by_serial = ParsePskcText(ReadData("figure2.pskcxml"), PskcOptions());
  ASSERT_TRUE(by_serial.ok());
  EXPECT_NE(by_serial->rejected[0].reason.find("SerialNo"), std::string::npos);
}

TEST(PskcTest, Figure3Plain) {
  auto parsed = ParsePskcText(ReadData("figure3.pskcxml"), PskcOptions());
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  ASSERT_EQ(parsed->tokens.size(), 1u);
  ExpectRfcToken(parsed->tokens[0], "987654321");
  EXPECT_EQ(parsed->tokens[0].first.issuer, "Issuer");
  PskcOptions by_key_id;
  by_key_id.id_from_key_id = true;
  EXPECT_EQ(ParsePskcText(ReadData("figure3.pskcxml"), by_key_id)->tokens[0].first.credential_id,
            "12345678");
}

TEST(PskcTest, Figure4NoKeyMaterial) {
  auto parsed = ParsePskcText(ReadData("figure4.pskcxml"), PskcOptions());
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_TRUE(parsed->tokens.empty());
  ASSERT_EQ(parsed->rejected.size(), 1u);
  EXPECT_NE(parsed->rejected[0].reason.find("no key material"), std::string::npos);
}

TEST(PskcTest, Figure5PinKeyIsNotAnOtpKey) {
  auto parsed = ParsePskcText(ReadData("figure5.pskcxml"), PskcOptions());
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  ASSERT_EQ(parsed->tokens.size(), 1u);
  ExpectRfcToken(parsed->tokens[0], "987654321");
  ASSERT_EQ(parsed->rejected.size(), 1u);
  EXPECT_EQ(parsed->rejected[0].line, 2u);
  EXPECT_NE(parsed->rejected[0].reason.find("not an OTP key"), std::string::npos);
}

TEST(PskcTest, Figure6PlainCounterInMacedFileIsRejected) {
  std::string xml = ReadData("figure6.pskcxml");
  auto parsed = ParsePskcText(xml, WithKey("12345678901234567890123456789012"));
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_TRUE(parsed->tokens.empty());
  ASSERT_EQ(parsed->rejected.size(), 1u);
  EXPECT_NE(parsed->rejected[0].reason.find("Counter is a PlainValue"), std::string::npos);
  // Without the unauthenticated counter, the key is read.
  size_t from = xml.find("<Counter>"), to = xml.find("</Counter>") + 10;
  xml.erase(from, to - from);
  parsed = ParsePskcText(xml, WithKey("12345678901234567890123456789012"));
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  ASSERT_EQ(parsed->tokens.size(), 1u);
  ExpectRfcToken(parsed->tokens[0], "987654321");
}

TEST(PskcTest, PlainSecretInMacedFileIsRejected) {
  std::string xml = ReadData("figure6.pskcxml");
  size_t from = xml.find("<Secret>"), to = xml.find("</Secret>") + 9;
  xml.replace(from, to - from,
              "<Secret><PlainValue>MTIzNDU2Nzg5MDEyMzQ1Njc4OTA=</PlainValue></Secret>");
  auto parsed = ParsePskcText(xml, WithKey("12345678901234567890123456789012"));
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_TRUE(parsed->tokens.empty());
  ASSERT_EQ(parsed->rejected.size(), 1u);
  EXPECT_NE(parsed->rejected[0].reason.find("Secret is a PlainValue in a file with a MACMethod"),
            std::string::npos);
}

// Files written by python3-pskc (tests/data/pskc/python-pskc/make_files.py).
TEST(PskcTest, PythonPskcEncryptedCountersAndTimes) {
  for (const char* name : {"encrypted_psk.pskcxml", "encrypted_password.pskcxml"}) {
    PskcOptions options = WithKey("12345678901234567890123456789012");
    options.password = "qwerty";
    auto parsed = ParsePskcText(ReadData(std::string("python-pskc/") + name), options);
    ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
    ASSERT_EQ(parsed->tokens.size(), 3u) << name;
    EXPECT_EQ(parsed->tokens[0].first.initial_counter, 10000000000000007u);
    EXPECT_EQ(parsed->tokens[1].first.params.period, 60);
    EXPECT_EQ(parsed->tokens[1].first.params.digits, 8);
    EXPECT_EQ(parsed->tokens[2].first.params.t0, 1000);
    EXPECT_EQ(HexEncode(parsed->tokens[2].second.span()), kRfcSecretHex);
  }
}

TEST(PskcTest, FieldsThatCannotBeHonouredRejectTheKey) {
  const std::string base = ReadData("figure3.pskcxml");
  auto reason = [&](const std::string& from, const std::string& to) {
    std::string xml = base;
    size_t at = xml.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    xml.replace(at, from.size(), to);
    auto parsed = ParsePskcText(xml, PskcOptions());
    EXPECT_TRUE(parsed.ok()) << parsed.status().ToString();
    if (!parsed.ok() || parsed->rejected.empty()) return std::string("imported");
    return parsed->rejected[0].reason;
  };
  EXPECT_NE(reason("Encoding=\"DECIMAL\"", "Encoding=\"DECIMAL\" CheckDigits=\"true\"")
                .find("CheckDigits"),
            std::string::npos);
  EXPECT_NE(reason("<Counter>", "<Extra>1</Extra><Counter>").find("Data/Extra"), std::string::npos);
  EXPECT_NE(reason("<Counter>", "<TimeDrift><PlainValue>1</PlainValue></TimeDrift><Counter>")
                .find("HOTP key"),
            std::string::npos);
  EXPECT_NE(
      reason("</Data>", "</Data><Policy><NumberOfTransactions>5</NumberOfTransactions></Policy>")
          .find("NumberOfTransactions"),
      std::string::npos);
  // Several KeyUsage: OTP among them is enough.
  EXPECT_EQ(
      reason("</Data>", "</Data><Policy><KeyUsage>CR</KeyUsage><KeyUsage>OTP</KeyUsage></Policy>"),
      "imported");
  EXPECT_NE(reason("</Data>", "</Data><Policy><KeyUsage>CR</KeyUsage></Policy>").find("not OTP"),
            std::string::npos);
  // Names are case-insensitive; dates with fractions and offsets.
  EXPECT_EQ(reason("<AlgorithmParameters>", "<AlgorithmParameters><Suite>hmac-sha1</Suite>"),
            "imported");
  EXPECT_EQ(reason("</Data>",
                   "</Data><Policy><ExpiryDate>2030-01-01T00:00:00.5+01:00</ExpiryDate></Policy>"),
            "imported");
}

TEST(PskcTest, XsDateTimeForms) {
  EXPECT_EQ(ParseXsDateTime("2006-05-01T00:00:00Z"), 1146441600);
  EXPECT_EQ(ParseXsDateTime("2006-05-01T00:00:00"), 1146441600);
  EXPECT_EQ(ParseXsDateTime("2006-05-01T00:00:00.123Z"), 1146441600);
  EXPECT_EQ(ParseXsDateTime("2006-05-01T01:00:00+01:00"), 1146441600);
  EXPECT_EQ(ParseXsDateTime("2006-04-30T22:30:00-01:30"), 1146441600);
  EXPECT_FALSE(ParseXsDateTime("2006-05-01"));
  EXPECT_FALSE(ParseXsDateTime("2006-05-01T00:00:00+1"));
  EXPECT_FALSE(ParseXsDateTime("2006-13-01T00:00:00Z"));
}

TEST(PskcTest, EncryptedIntegers) {
  const uint8_t be[] = {0, 0, 0, 0, 0, 0, 1, 0};
  EXPECT_EQ(DecodePskcInteger(be), 256u);
  const uint8_t text[] = {'1', '2', '3'};
  EXPECT_EQ(DecodePskcInteger(text), 123u);
  const uint8_t too_long[9] = {1};
  EXPECT_FALSE(DecodePskcInteger(too_long));
  EXPECT_FALSE(DecodePskcInteger({}));
}

TEST(PskcTest, MessagesNameTheBlocker) {
  std::string xml = ReadData("figure6.pskcxml");
  std::string cert = xml;
  cert.replace(cert.find("<ds:KeyName>Pre-shared-key</ds:KeyName>"), 39,
               "<ds:X509Data><ds:X509Certificate>MIIB</ds:X509Certificate></ds:X509Data>");
  auto parsed = ParsePskcText(cert, PskcOptions());
  ASSERT_FALSE(parsed.ok());
  EXPECT_NE(parsed.status().message().find("certificate"), std::string::npos)
      << parsed.status().message();
  auto empty =
      ParsePskcText("<KeyContainer Version=\"1.0\" xmlns=\"urn:ietf:params:xml:ns:keyprov:pskc\"/>",
                    PskcOptions());
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.status().message().find("no KeyPackage"), std::string::npos);
  auto draft = ParsePskcText(
      "<KeyContainer Version=\"1.0\" "
      "xmlns=\"urn:ietf:params:xml:ns:keyprov:pskc\"><Device/></KeyContainer>",
      PskcOptions());
  ASSERT_FALSE(draft.ok());
  EXPECT_NE(draft.status().message().find("Device"), std::string::npos);
}

TEST(PskcTest, Figure6WrongOrMissingKeyRejectsTheFile) {
  auto wrong =
      ParsePskcText(ReadData("figure6.pskcxml"), WithKey("00000000000000000000000000000000"));
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.status().code(), StatusCode::kWrongKey);
  auto missing = ParsePskcText(ReadData("figure6.pskcxml"), PskcOptions());
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("--key-file"), std::string::npos);
  auto short_key = ParsePskcText(ReadData("figure6.pskcxml"), WithKey("0011"));
  EXPECT_FALSE(short_key.ok());
}

TEST(PskcTest, Figure6TamperedMacRejectsTheFile) {
  std::string xml = ReadData("figure6.pskcxml");
  size_t at = xml.find("Su+NvtQfmvfJzF6bmQiJqoLRExc=");
  ASSERT_NE(at, std::string::npos);
  xml[at] = 'T';
  auto parsed = ParsePskcText(xml, WithKey("12345678901234567890123456789012"));
  ASSERT_FALSE(parsed.ok());
  EXPECT_NE(parsed.status().message().find("ValueMAC does not match"), std::string::npos);
  // A tampered ciphertext is caught by the MAC before decryption.
  xml = ReadData("figure6.pskcxml");
  at = xml.find("AAECAwQFBgcICQoLDA0OD+cI");
  xml[at + 20] = xml[at + 20] == 'A' ? 'B' : 'A';
  parsed = ParsePskcText(xml, WithKey("12345678901234567890123456789012"));
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().code(), StatusCode::kWrongKey);
}

TEST(PskcTest, Figure7Pbkdf2Password) {
  auto parsed = ParsePskcText(ReadData("figure7.pskcxml"), WithPassword("qwerty"));
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  ASSERT_EQ(parsed->tokens.size(), 1u);
  ExpectRfcToken(parsed->tokens[0], "987654321");
  EXPECT_EQ(parsed->tokens[0].first.issuer, "Example-Issuer");
  auto wrong = ParsePskcText(ReadData("figure7.pskcxml"), WithPassword("qwertz"));
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.status().code(), StatusCode::kWrongKey);
  auto missing = ParsePskcText(ReadData("figure7.pskcxml"), PskcOptions());
  EXPECT_NE(missing.status().message().find("--password-file"), std::string::npos);
}

TEST(PskcTest, Figure10BulkWithSharedDevice) {
  auto parsed = ParsePskcText(ReadData("figure10.pskcxml"), PskcOptions());
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  // SerialNo 9999999 is shared by keys 3 and 4: the second is a duplicate.
  ASSERT_EQ(parsed->tokens.size(), 3u);
  ASSERT_EQ(parsed->rejected.size(), 1u);
  EXPECT_EQ(parsed->rejected[0].line, 4u);
  EXPECT_NE(parsed->rejected[0].reason.find("more than once"), std::string::npos);
  EXPECT_EQ(parsed->tokens[0].first.credential_id, "654321");
  EXPECT_EQ(parsed->tokens[0].first.valid_until, 1149033600);  // 2006-05-31T00:00:00Z
  EXPECT_EQ(parsed->tokens[0].first.valid_from, 1146441600);   // 2006-05-01T00:00:00Z
  for (const auto& token : parsed->tokens) ExpectRfcToken(token, token.first.credential_id);
  // By Key@Id all four are distinct.
  PskcOptions by_key_id;
  by_key_id.id_from_key_id = true;
  auto all = ParsePskcText(ReadData("figure10.pskcxml"), by_key_id);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->tokens.size(), 4u);
}

TEST(PskcTest, HostileAndBrokenXmlIsRefused) {
  const char* billion_laughs =
      "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">"
      "<!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">"
      "<!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">]>"
      "<KeyContainer Version=\"1.0\" "
      "xmlns=\"urn:ietf:params:xml:ns:keyprov:pskc\">&lol3;</KeyContainer>";
  const char* external_entity =
      "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>"
      "<KeyContainer Version=\"1.0\" xmlns=\"urn:ietf:params:xml:ns:keyprov:pskc\">"
      "<KeyPackage><DeviceInfo><SerialNo>&xxe;</SerialNo></DeviceInfo></KeyPackage></KeyContainer>";
  for (const char* xml : {billion_laughs, external_entity}) {
    auto parsed = ParsePskcText(xml, PskcOptions());
    ASSERT_FALSE(parsed.ok());
    EXPECT_NE(parsed.status().message().find("DTD"), std::string::npos)
        << parsed.status().message();
  }
  std::string figure3 = ReadData("figure3.pskcxml");
  EXPECT_FALSE(ParsePskcText(figure3.substr(0, figure3.size() / 2), PskcOptions()).ok());
  EXPECT_FALSE(ParsePskcText("<KeyContainer/>", PskcOptions()).ok()) << "no PSKC namespace";
  EXPECT_FALSE(ParsePskcText("not xml at all", PskcOptions()).ok());
}

// A KeyPackage is expanded in memory to be read: one of more than 1 MiB is
// refused while it is read (a 100 MB one took 2.9 GB), naming which key;
// the keys around it are fine, and so is one just under the bound.
TEST(PskcTest, AnOversizedKeyPackageIsRefusedWhileRead) {
  auto package = [](int serial, size_t padding_elements) {
    std::string padding;
    for (size_t i = 0; i < padding_elements; ++i) padding += "<a/>";
    return "<KeyPackage><DeviceInfo><SerialNo>VSST0000000" + std::to_string(serial) +
           "</SerialNo></DeviceInfo><Key Id=\"" + std::to_string(serial) +
           "\" Algorithm=\"urn:ietf:params:xml:ns:keyprov:pskc:totp\"><Data><Secret>"
           "<PlainValue>MTIzNDU2Nzg5MDEyMzQ1Njc4OTA=</PlainValue></Secret></Data>"
           "<UserId>" +
           padding + "</UserId></Key></KeyPackage>";
  };
  auto container = [](const std::string& packages) {
    return "<?xml version=\"1.0\" encoding=\"UTF-8\"?><KeyContainer Version=\"1.0\" "
           "xmlns=\"urn:ietf:params:xml:ns:keyprov:pskc\">" +
           packages + "</KeyContainer>";
  };
  auto under = ParsePskcText(container(package(1, 0) + package(2, 250000)), PskcOptions());
  ASSERT_TRUE(under.ok()) << under.status().message();  // 1,000,000 bytes of padding
  EXPECT_EQ(under->tokens.size() + under->rejected.size(), 2u);
  auto over =
      ParsePskcText(container(package(1, 0) + package(2, 300000) + package(3, 0)), PskcOptions());
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(over.status().message().find("key 2: KeyContainer/KeyPackage is larger than 1024 KiB"),
            std::string::npos)
      << over.status().message();
}

TEST(PskcTest, UnsupportedAlgorithms) {
  std::string xml = ReadData("figure6.pskcxml");
  std::string cbc = "http://www.w3.org/2001/04/xmlenc#aes128-cbc";
  std::string weird = xml;
  weird.replace(weird.rfind(cbc), cbc.size(),
                "http://www.w3.org/2001/04/xmldsig-more#camellia128-cbc");
  auto parsed = ParsePskcText(weird, WithKey("12345678901234567890123456789012"));
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  ASSERT_EQ(parsed->rejected.size(), 1u);
  EXPECT_NE(parsed->rejected[0].reason.find("unsupported cipher"), std::string::npos)
      << parsed->rejected[0].reason;
  std::string weird_mac = xml;
  std::string mac = "http://www.w3.org/2000/09/xmldsig#hmac-sha1";
  weird_mac.replace(weird_mac.find(mac), mac.size(), "http://example.com/md5-mac");
  EXPECT_FALSE(ParsePskcText(weird_mac, WithKey("12345678901234567890123456789012")).ok());
  std::string weird_otp = ReadData("figure3.pskcxml");
  std::string hotp = "urn:ietf:params:xml:ns:keyprov:pskc:hotp";
  weird_otp.replace(weird_otp.find(hotp), hotp.size(), "urn:example:motp");
  auto rejected = ParsePskcText(weird_otp, PskcOptions());
  ASSERT_TRUE(rejected.ok());
  EXPECT_EQ(rejected->rejected.size(), 1u);
}

class PskcRoundTrip : public ::testing::TestWithParam<int> {};

TEST_P(PskcRoundTrip, ExportThenImportGivesTheSameCodes) {
  std::vector<PskcExport> keys;
  for (int i = 0; i < 3; ++i) {
    PskcExport k;
    k.credential_id = "VSST0000000" + std::to_string(i);
    k.params.kind = i == 2 ? OtpKind::kHotp : OtpKind::kTotp;
    k.params.algorithm = i == 1 ? HashAlgorithm::kSha256 : HashAlgorithm::kSha1;
    k.params.digits = 6 + i;
    k.secret = RandomBytes(20).value();
    k.issuer = "Bank & <Co>";
    k.counter = 7;
    keys.push_back(std::move(k));
  }
  PskcOptions options;
  if (GetParam() == 1) options.preshared_key = RandomBytes(16).value();
  if (GetParam() == 2) options.password = "correct horse";
  auto xml = WritePskc(keys, options);
  ASSERT_TRUE(xml.ok()) << xml.status().ToString();
  if (GetParam() != 0) {
    EXPECT_EQ(xml->find("<Secret><PlainValue>"), std::string::npos) << "secrets must be encrypted";
  }
  auto parsed = ParsePskcText(*xml, options);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  ASSERT_EQ(parsed->tokens.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    const auto& [spec, secret] = parsed->tokens[static_cast<size_t>(i)];
    EXPECT_EQ(spec.credential_id, keys[static_cast<size_t>(i)].credential_id);
    EXPECT_EQ(spec.params.kind, keys[static_cast<size_t>(i)].params.kind);
    EXPECT_EQ(spec.params.algorithm, keys[static_cast<size_t>(i)].params.algorithm);
    EXPECT_EQ(spec.params.digits, keys[static_cast<size_t>(i)].params.digits);
    EXPECT_EQ(spec.issuer, "Bank & <Co>");
    EXPECT_TRUE(secret == keys[static_cast<size_t>(i)].secret);
  }
  EXPECT_EQ(parsed->tokens[2].first.initial_counter, 7u);
}

INSTANTIATE_TEST_SUITE_P(PlainKeyPassword, PskcRoundTrip, ::testing::Values(0, 1, 2));

}  // namespace
}  // namespace otpgate
