using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace SpotJax.TpuSimulation;

/// <summary>
/// The Secret Manager stand-in: secrets seeded by a test or the local plane, read as Secret Manager's
/// <c>GET v1/projects/P/secrets/S/versions/V:access</c> answers (<c>name</c>, <c>payload.data</c> in base64,
/// <c>payload.dataCrc32c</c> as a decimal string), with the errors of the real service.
/// </summary>
internal sealed partial class SimulatedSecrets
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, List<byte[]>> _versions = new(StringComparer.Ordinal);

    /// <summary>Adds a version to secret <paramref name="secretId"/> of <paramref name="project"/> and returns its number.</summary>
    public int Add(string project, string secretId, byte[] payload)
    {
        if (!ProjectShape().IsMatch(project) || !SecretIdShape().IsMatch(secretId))
        {
            throw SimulatorApiException.InvalidArgument($"'{project}' / '{secretId}' is not a project id and secret id.");
        }

        lock (_gate)
        {
            var key = $"projects/{project}/secrets/{secretId}";
            if (!_versions.TryGetValue(key, out var versions))
            {
                _versions[key] = versions = [];
            }

            versions.Add(payload.ToArray());
            return versions.Count;
        }
    }

    /// <summary>The <c>:access</c> answer for <paramref name="name"/> (<c>projects/P/secrets/S/versions/V</c>).</summary>
    public JsonObject Access(string name)
    {
        var match = VersionName().Match(name);
        if (!match.Success)
        {
            throw SimulatorApiException.InvalidArgument($"Invalid resource field value in the request: '{name}' is not projects/*/secrets/*/versions/*.");
        }

        var secret = match.Groups["secret"].Value;
        var version = match.Groups["version"].Value;
        byte[] payload;
        int number;
        lock (_gate)
        {
            if (!_versions.TryGetValue(secret, out var versions))
            {
                throw new SimulatorApiException(HttpStatusCode.NotFound, "NOT_FOUND", $"Secret [{secret}] not found or has no versions.");
            }

            number = version == "latest" ? versions.Count : int.TryParse(version, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : 0;
            if (number < 1 || number > versions.Count)
            {
                throw new SimulatorApiException(HttpStatusCode.NotFound, "NOT_FOUND", $"Secret Version [{secret}/versions/{version}] not found.");
            }

            payload = versions[number - 1];
        }

        return new JsonObject
        {
            ["name"] = string.Create(CultureInfo.InvariantCulture, $"{secret}/versions/{number}"),
            ["payload"] = new JsonObject
            {
                ["data"] = Convert.ToBase64String(payload),
                ["dataCrc32c"] = Crc32C(payload).ToString(CultureInfo.InvariantCulture),
            },
        };
    }

    /// <summary>CRC32C (Castagnoli, reflected polynomial 0x82F63B78), as Secret Manager computes it.</summary>
    public static uint Crc32C(ReadOnlySpan<byte> data)
    {
        var crc = 0xFFFFFFFFu;
        foreach (var b in data)
        {
            crc ^= b;
            for (var bit = 0; bit < 8; bit++)
            {
                crc = (crc & 1) != 0 ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
            }
        }

        return ~crc;
    }

    /// <summary>The UTF-8 bytes of a text secret.</summary>
    public static byte[] Text(string value) => Encoding.UTF8.GetBytes(value);

    [GeneratedRegex(@"^[a-z][a-z0-9-]{4,28}[a-z0-9]\z|^[1-9][0-9]{0,19}\z", RegexOptions.CultureInvariant)]
    private static partial Regex ProjectShape();

    [GeneratedRegex(@"^[A-Za-z0-9_-]{1,255}\z", RegexOptions.CultureInvariant)]
    private static partial Regex SecretIdShape();

    [GeneratedRegex(@"^(?<secret>projects/(?:[a-z][a-z0-9-]{4,28}[a-z0-9]|[1-9][0-9]{0,19})/secrets/[A-Za-z0-9_-]{1,255})/versions/(?<version>[1-9][0-9]{0,8}|latest)\z", RegexOptions.CultureInvariant)]
    private static partial Regex VersionName();
}
