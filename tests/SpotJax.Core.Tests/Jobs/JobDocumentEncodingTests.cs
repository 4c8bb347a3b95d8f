using System.Text;
using SpotJax.Core.Jobs;

namespace SpotJax.Core.Tests.Jobs;

/// <summary>The one encoding rule every path (file, manifest, message) hands its raw bytes to.</summary>
public sealed class JobDocumentEncodingTests
{
    private const string Yaml = "name: ünïcode\ntpu: {type: v4-8, zone: us-central2-b}\ncode: gs://my-bucket/code.tar.gz\nscript: train.py\n";

    private static JobDocumentException Rejects(byte[] bytes) => Assert.Throws<JobDocumentException>(() => JobDocument.Parse(bytes));

    [Theory]
    [InlineData("utf-8")]
    [InlineData("utf-8-bom")]
    [InlineData("utf-16le-bom")]
    [InlineData("utf-16be-bom")]
    public void Parse_AcceptedEncoding_GivesTheSameJob(string encoding)
    {
        var bytes = encoding switch
        {
            "utf-8" => new UTF8Encoding(false).GetBytes(Yaml),
            "utf-8-bom" => [.. Encoding.UTF8.Preamble, .. Encoding.UTF8.GetBytes(Yaml)],
            "utf-16le-bom" => [.. Encoding.Unicode.Preamble, .. Encoding.Unicode.GetBytes(Yaml)],
            _ => [.. Encoding.BigEndianUnicode.Preamble, .. Encoding.BigEndianUnicode.GetBytes(Yaml)],
        };

        var spec = JobDocument.Parse(bytes);

        Assert.Equal("ünïcode", spec.Name);
        Assert.Equal("train.py", spec.Script);
    }

    [Fact]
    public void Parse_InvalidUtf8_NamesTheByteAndItsOffset()
    {
        var bytes = Encoding.UTF8.GetBytes("name: abcdefghijk\n");
        bytes[17] = 0xFF;

        var error = Assert.Single(Rejects(bytes).Errors);

        Assert.Equal("document", error.Field);
        Assert.StartsWith("is not valid UTF-8: invalid byte 0xFF at offset 17; save it as UTF-8", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_TruncatedUtf8SequenceAfterBom_CountsTheBomInTheOffset()
    {
        byte[] bytes = [.. Encoding.UTF8.Preamble, .. Encoding.UTF8.GetBytes("name: x"), 0xC3];

        var error = Assert.Single(Rejects(bytes).Errors);

        Assert.Contains("invalid byte 0xC3 at offset 10", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(new byte[] { 0xFF, 0xFE, 0x00, 0x00, 0x6E, 0x00, 0x00, 0x00 }, "is UTF-32 LE")]
    [InlineData(new byte[] { 0x00, 0x00, 0xFE, 0xFF, 0x00, 0x00, 0x00, 0x6E }, "is UTF-32 BE")]
    public void Parse_Utf32Bom_IsRejectedNamingUtf32(byte[] bytes, string expected)
    {
        var error = Assert.Single(Rejects(bytes).Errors);

        Assert.StartsWith(expected, error.Message, StringComparison.Ordinal);
        Assert.Contains("save it as UTF-8", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_Utf16WithOddLength_IsRejectedAsCut()
    {
        byte[] bytes = [.. Encoding.Unicode.Preamble, .. Encoding.Unicode.GetBytes(Yaml), 0x41];

        var error = Assert.Single(Rejects(bytes).Errors);

        Assert.Contains("UTF-16 LE byte-order mark but has an odd number of bytes", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_Utf16WithUnpairedSurrogate_NamesItsOffset()
    {
        byte[] bytes = [0xFF, 0xFE, 0x6E, 0x00, 0x00, 0xD8, 0x3A, 0x00];

        var error = Assert.Single(Rejects(bytes).Errors);

        Assert.StartsWith("is not valid UTF-16 LE: unpaired surrogate 0xD800 at offset 4", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_Utf16WithoutBom_IsRejectedSuggestingTheMissingMark()
    {
        var error = Assert.Single(Rejects(Encoding.Unicode.GetBytes(Yaml)).Errors);

        Assert.StartsWith("contains a NUL byte at offset 1, so it is not text (UTF-16 without a byte-order mark?)", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_UnknownBomLikeGb18030_IsRejectedAsInvalidUtf8AtOffsetZero()
    {
        byte[] bytes = [0x84, 0x31, 0x95, 0x33, .. Encoding.ASCII.GetBytes(Yaml)];

        var error = Assert.Single(Rejects(bytes).Errors);

        Assert.StartsWith("is not valid UTF-8: invalid byte 0x84 at offset 0", error.Message, StringComparison.Ordinal);
    }
}
