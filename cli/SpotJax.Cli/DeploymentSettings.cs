using SpotJax.Core;

namespace SpotJax.Cli;

/// <summary>
/// What the command line needs besides the project and the bucket to reach a Google Cloud deployment:
/// its topics (from its name prefix) and its Firestore database. They come from the bucket's
/// <see cref="DeploymentDescriptor.ObjectName"/>, which Terraform writes; a deployment made before it has
/// none, and then from <see cref="NamePrefixVariable"/> and <see cref="FirestoreDatabaseVariable"/>, else the defaults.
/// </summary>
/// <param name="Topics">The deployment's topics; jobs and cancels go to <see cref="Topics.Jobs"/>.</param>
/// <param name="FirestoreDatabase">The job store's database.</param>
/// <param name="Source">Where the settings came from, for <c>spotjax setup</c>.</param>
public sealed record DeploymentSettings(Topics Topics, string FirestoreDatabase, string Source)
{
    /// <summary>The functions' variable of the same name: the prefix, for a deployment without a descriptor.</summary>
    public const string NamePrefixVariable = "SPOTJAX_NAME_PREFIX";

    /// <summary>The functions' variable of the same name: the database, for a deployment without a descriptor.</summary>
    public const string FirestoreDatabaseVariable = "SPOTJAX_FIRESTORE_DATABASE";

    /// <summary>The settings of the deployment whose bucket holds <paramref name="descriptor"/> (null: no such object).</summary>
    /// <exception cref="CliException">The descriptor or a variable is malformed; the message names it and what is wrong.</exception>
    public static DeploymentSettings From(string bucket, byte[]? descriptor, Func<string, string?> environment)
    {
        var uri = $"gs://{bucket}/{DeploymentDescriptor.ObjectName}";
        if (descriptor is not null)
        {
            try
            {
                var read = DeploymentDescriptor.Parse(descriptor);
                return new DeploymentSettings(read.Topics, read.FirestoreDatabase, $"{uri}: name prefix {read.NamePrefix}, deployment {read.Deployment}, Firestore database {read.FirestoreDatabase}");
            }
            catch (FormatException e)
            {
                throw new CliException(ExitCodes.Unavailable, $"{uri} cannot be read: {e.Message}; it is written by `terraform apply` in infra/");
            }
        }

        var prefix = environment(NamePrefixVariable) is { Length: > 0 } p ? p : null;
        var database = environment(FirestoreDatabaseVariable) is { Length: > 0 } d ? d : null;
        if (prefix is not null && !NamePrefix.IsValid(prefix))
        {
            throw new CliException(ExitCodes.Usage, $"{NamePrefixVariable}='{prefix}': {NamePrefix.Rule}");
        }

        if (database is not null && !DeploymentDescriptor.IsFirestoreDatabase(database))
        {
            throw new CliException(ExitCodes.Usage, $"{FirestoreDatabaseVariable}='{database}': {DeploymentDescriptor.FirestoreDatabaseRule}");
        }

        var topics = new Topics(prefix ?? NamePrefix.Default);
        database ??= "(default)";
        var from = prefix is null && environment(FirestoreDatabaseVariable) is not { Length: > 0 }
            ? "the defaults"
            : $"{NamePrefixVariable}/{FirestoreDatabaseVariable}";
        return new DeploymentSettings(topics, database, $"no {uri} (a deployment made before it): name prefix {topics.Prefix}, Firestore database {database}, from {from}");
    }
}
