using System.Security.Cryptography;
using System.Text;

namespace SpotJax.Core.Steps;

/// <summary>Deterministic request ids: the same step of the same attempt always sends the same UUID.</summary>
public static class RequestIds
{
    /// <summary>
    /// The request id of create try <paramref name="try"/> of an attempt. A redelivery of the try sends it again and
    /// gets the original operation; a try after a failed create must send a new one, because a server that honours
    /// request ids (google.aip.dev/155) answers a repeated id with the original, failed, operation.
    /// </summary>
    public static string Create(string jobId, int attempt, int @try) =>
        For(jobId, attempt, string.Create(System.Globalization.CultureInfo.InvariantCulture, $"create-{@try}"));

    public static string For(string jobId, int attempt, string action)
    {
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes($"{jobId}/{attempt}/{action}"));
        var bytes = hash.AsSpan(0, 16).ToArray();
        bytes[6] = (byte)((bytes[6] & 0x0F) | 0x50); // version 5 layout: name-based
        bytes[8] = (byte)((bytes[8] & 0x3F) | 0x80); // RFC 4122 variant
        return new Guid(bytes, bigEndian: true).ToString();
    }
}
