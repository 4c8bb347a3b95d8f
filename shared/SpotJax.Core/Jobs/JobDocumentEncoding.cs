using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using System.Text.Unicode;

namespace SpotJax.Core.Jobs;

/// <summary>
/// The one encoding rule for job documents, whatever brought them (a file, a manifest in the bucket, a
/// Pub/Sub message): UTF-8 with or without a byte-order mark, or UTF-16 LE/BE with one (what Windows
/// editors save by default). Anything else is refused with what is wrong and where, never guessed at,
/// so a document reads the same on every path.
/// </summary>
public static class JobDocumentEncoding
{
    private const string SaveAsUtf8 = "save it as UTF-8";

    /// <summary>
    /// Decodes <paramref name="bytes"/> to text, or says why it cannot (for example
    /// <c>is not valid UTF-8: invalid byte 0xFF at offset 17; save it as UTF-8</c>).
    /// </summary>
    public static bool TryDecode(ReadOnlySpan<byte> bytes, out string text, out string problem)
    {
        text = "";
        problem = "";
        if (bytes.StartsWith((ReadOnlySpan<byte>)[0xFF, 0xFE, 0x00, 0x00]) || bytes.StartsWith((ReadOnlySpan<byte>)[0x00, 0x00, 0xFE, 0xFF]))
        {
            var order = bytes[0] == 0xFF ? "LE" : "BE";
            problem = $"is UTF-32 {order} (it starts with a UTF-32 byte-order mark), which is not accepted; {SaveAsUtf8}";
            return false;
        }

        if (bytes.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]))
        {
            return TryUtf8(bytes[3..], 3, out text, out problem);
        }

        if (bytes.StartsWith((ReadOnlySpan<byte>)[0xFF, 0xFE]))
        {
            return TryUtf16(bytes[2..], bigEndian: false, out text, out problem);
        }

        if (bytes.StartsWith((ReadOnlySpan<byte>)[0xFE, 0xFF]))
        {
            return TryUtf16(bytes[2..], bigEndian: true, out text, out problem);
        }

        return TryUtf8(bytes, 0, out text, out problem);
    }

    private static bool TryUtf8(ReadOnlySpan<byte> bytes, int start, out string text, out string problem)
    {
        text = "";
        problem = "";

        // Before validity: UTF-16 without its mark is mostly NULs, and saying so helps more than a bad byte.
        var nul = bytes.IndexOf((byte)0);
        if (nul >= 0)
        {
            problem = NulProblem(start + nul);
            return false;
        }

        if (!Utf8.IsValid(bytes))
        {
            var offset = 0;
            while (System.Buffers.OperationStatus.Done == Rune.DecodeFromUtf8(bytes[offset..], out _, out var consumed))
            {
                offset += consumed;
            }

            var at = (start + offset).ToString(CultureInfo.InvariantCulture);
            problem = $"is not valid UTF-8: invalid byte 0x{bytes[offset]:X2} at offset {at}; {SaveAsUtf8} (UTF-16 is accepted too, with a byte-order mark)";
            return false;
        }

        text = Encoding.UTF8.GetString(bytes);
        return true;
    }

    private static bool TryUtf16(ReadOnlySpan<byte> bytes, bool bigEndian, out string text, out string problem)
    {
        text = "";
        problem = "";
        var name = bigEndian ? "UTF-16 BE" : "UTF-16 LE";
        if (bytes.Length % 2 != 0)
        {
            var length = (bytes.Length + 2).ToString(CultureInfo.InvariantCulture);
            problem = $"starts with a {name} byte-order mark but has an odd number of bytes ({length}), so it is cut or not UTF-16; {SaveAsUtf8}";
            return false;
        }

        var chars = new char[bytes.Length / 2];
        for (var i = 0; i < chars.Length; i++)
        {
            var unit = bytes.Slice(2 * i, 2);
            chars[i] = (char)(bigEndian ? BinaryPrimitives.ReadUInt16BigEndian(unit) : BinaryPrimitives.ReadUInt16LittleEndian(unit));
        }

        for (var i = 0; i < chars.Length; i++)
        {
            if (char.IsHighSurrogate(chars[i]) && i + 1 < chars.Length && char.IsLowSurrogate(chars[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(chars[i]))
            {
                var at = (2 + (2 * i)).ToString(CultureInfo.InvariantCulture);
                problem = $"is not valid {name}: unpaired surrogate 0x{(int)chars[i]:X4} at offset {at}; {SaveAsUtf8}";
                return false;
            }
        }

        var nul = Array.IndexOf(chars, '\0');
        if (nul >= 0)
        {
            problem = $"contains a NUL character at offset {(2 + (2 * nul)).ToString(CultureInfo.InvariantCulture)}, which a job document cannot hold; remove it";
            return false;
        }

        text = new string(chars);
        return true;
    }

    /// <summary>
    /// YAML and JSON both forbid a raw NUL; one in the text almost always means UTF-16 without its
    /// byte-order mark, which is worth saying rather than a parser's confusing complaint.
    /// </summary>
    private static string NulProblem(int offset) =>
        $"contains a NUL byte at offset {offset.ToString(CultureInfo.InvariantCulture)}, so it is not text (UTF-16 without a byte-order mark?); {SaveAsUtf8}";
}
