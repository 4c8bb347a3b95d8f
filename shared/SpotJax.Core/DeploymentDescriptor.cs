using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using SpotJax.Core.Steps;

namespace SpotJax.Core;

/// <summary>
/// What Terraform writes at the top of the control bucket (<see cref="ObjectName"/>, infra/storage.tf) so
/// that the command line needs only the bucket to reach a deployment: the prefix of its topics, its name
/// and its Firestore database. The JSON is exactly
/// <c>{"version": 1, "namePrefix": ..., "deployment": ..., "firestoreDatabase": ...}</c>.
/// </summary>
public sealed partial record DeploymentDescriptor
{
    /// <summary>The object's name in the control bucket: top level, so it belongs to no job.</summary>
    public const string ObjectName = "deployment.json";

    /// <summary>The only version this code reads and writes.</summary>
    public const int CurrentVersion = 1;

    /// <summary>The JSON property names, in the order <see cref="ToJson"/> writes them.</summary>
    public static IReadOnlyList<string> JsonNames { get; } = ["version", "namePrefix", "deployment", "firestoreDatabase"];

    /// <summary>The database id rule of infra/variables.tf <c>firestore_database</c>.</summary>
    public const string FirestoreDatabaseRule = "a Firestore database is (default) or 4 to 63 characters of lowercase letters, digits and '-', starting with a letter and ending with a letter or digit";

    /// <exception cref="ArgumentException">A value breaks its rule (<see cref="Core.NamePrefix.Rule"/>, <see cref="DeploymentName.Rule"/>, <see cref="FirestoreDatabaseRule"/>).</exception>
    public DeploymentDescriptor(string namePrefix, string deployment, string firestoreDatabase)
    {
        NamePrefix = Core.NamePrefix.Check(namePrefix);
        Deployment = DeploymentName.Check(deployment);
        FirestoreDatabase = IsFirestoreDatabase(firestoreDatabase) ? firestoreDatabase : throw new ArgumentException($"'{firestoreDatabase}' is not a Firestore database: {FirestoreDatabaseRule}", nameof(firestoreDatabase));
    }

    public string NamePrefix { get; }

    /// <summary>The deployment's name, the <c>spotjax-deployment</c> label of its queued resources.</summary>
    public string Deployment { get; }

    public string FirestoreDatabase { get; }

    /// <summary>The deployment's topics, named from <see cref="NamePrefix"/>.</summary>
    public Topics Topics => new(NamePrefix);

    /// <summary>Whether <paramref name="database"/> follows <see cref="FirestoreDatabaseRule"/>.</summary>
    public static bool IsFirestoreDatabase(string? database) => database == "(default)" || (database is not null && DatabasePattern().IsMatch(database));

    /// <summary>Reads the object strictly: a JSON object with exactly the four properties, version 1, each value valid.</summary>
    /// <exception cref="FormatException">Anything else; the message says what is wrong.</exception>
    public static DeploymentDescriptor Parse(ReadOnlySpan<byte> json)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json.ToArray());
        }
        catch (JsonException e)
        {
            throw new FormatException($"not JSON: {e.Message}");
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new FormatException($"expected a JSON object with {string.Join(", ", JsonNames)}");
            }

            var names = root.EnumerateObject().Select(p => p.Name).ToList();
            var unknown = names.Except(JsonNames, StringComparer.Ordinal).ToList();
            if (unknown.Count > 0 || names.Count != names.Distinct(StringComparer.Ordinal).Count())
            {
                throw new FormatException(unknown.Count > 0 ? $"unknown properties {string.Join(", ", unknown)}" : "a property is repeated");
            }

            if (!root.TryGetProperty("version", out var version) || version.ValueKind != JsonValueKind.Number || !version.TryGetInt32(out var number))
            {
                throw new FormatException("no version number");
            }

            if (number != CurrentVersion)
            {
                throw new FormatException($"version {version.GetRawText()} is not one this spotjax reads (it reads version {CurrentVersion}): update the command line to the deployment's version");
            }

            string Text(string name) =>
                root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString()! : throw new FormatException($"no {name} string");

            try
            {
                return new DeploymentDescriptor(Text("namePrefix"), Text("deployment"), Text("firestoreDatabase"));
            }
            catch (ArgumentException e)
            {
                throw new FormatException(e.Message.Split(" (Parameter", 2)[0]);
            }
        }
    }

    /// <summary>The object's content, as Terraform writes it (key order aside).</summary>
    public byte[] ToJson()
    {
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream))
        {
            writer.WriteStartObject();
            writer.WriteNumber(JsonNames[0], CurrentVersion);
            writer.WriteString(JsonNames[1], NamePrefix);
            writer.WriteString(JsonNames[2], Deployment);
            writer.WriteString(JsonNames[3], FirestoreDatabase);
            writer.WriteEndObject();
        }

        return stream.ToArray();
    }

    public override string ToString() => Encoding.UTF8.GetString(ToJson());

    [GeneratedRegex(@"^[a-z][a-z0-9-]{2,61}[a-z0-9]\z", RegexOptions.CultureInvariant)]
    private static partial Regex DatabasePattern();
}
