using System.Text.Json.Nodes;
using SpotJax.Tests.Infra;

namespace SpotJax.Tests.Deploy;

/// <summary>
/// Each expression of infra/ that branches on a variable, read from the .tf files and evaluated by
/// the real terraform over the variable's null, empty and set values (and unset: Cloud Build leaves
/// a variable unset when a build file does not pass it). A regression in the .tf files shows here,
/// not halfway through a deployment.
/// </summary>
public sealed class TerraformExpressionTests
{
    private const string BucketLocation = "local.bucket_location";
    private const string FirestoreLocation = "local.firestore_location";
    private const string GenerateSshKey = "local.generate_ssh_key";
    private const string SshPublicKey = "local.ssh_public_key";
    private const string TpuNetwork = "local.tpu_network";
    private const string FirestoreCount = "google_firestore_database.default.count";
    private const string NetworkCount = "google_compute_network.default.count";
    private const string NetworkDataCount = "data.google_compute_network.default.count";
    private const string KeyPairCount = "tls_private_key.ssh.count";
    private const string KeyVersionCount = "google_secret_manager_secret_version.ssh_key.count";
    private const string StatusViewers = "google_cloud_run_v2_service_iam_member.status_viewer.for_each";
    private const string FunctionEnv = "google_cloud_run_v2_service.function.template.containers.dynamic.env[2].for_each";
    private const string SweepZonesRule = "variable.sweep_zones.validation.condition";
    private const string JobSecretPrefixRule = "variable.job_secret_prefix.validation.condition";
    private const string DeploymentName = "local.deployment_name";
    private const string DeploymentNameRule = "variable.deployment_name.validation.condition";
    private const string NamedFirestoreCount = "google_firestore_database.named.count";
    private const string FirestoreDatabaseRule = "variable.firestore_database.validation.condition";
    private const string NamePrefixRule = "variable.name_prefix.validation.condition";

    private static readonly string[] Tested =
    [
        BucketLocation, FirestoreLocation, GenerateSshKey, SshPublicKey, TpuNetwork, FirestoreCount, NetworkCount,
        NetworkDataCount, KeyPairCount, KeyVersionCount, StatusViewers, FunctionEnv, SweepZonesRule, JobSecretPrefixRule,
        DeploymentName, DeploymentNameRule, NamedFirestoreCount, FirestoreDatabaseRule, NamePrefixRule,
    ];

    /// <summary>Expressions that branch, and read a variable, but whose branch is not on the variable.</summary>
    private static readonly Dictionary<string, string> NotOnAVariable = new()
    {
        ["google_cloud_run_v2_service.function.custom_audiences"] = "picks the service's own audience by function name; var.region is only part of the value",
        ["google_cloud_run_v2_service.function.template.containers.dynamic.env[0].for_each"] = "filters on the function's trigger; the push settings hold var.region only as a value",
        ["google_cloud_run_v2_service.function.template.containers.dynamic.env[1].for_each"] = "filters on the function's trigger; the step settings hold variables only as values",
    };

    [Fact]
    public void EveryExpressionThatBranchesOnAVariable_IsEvaluatedHere()
    {
        var branching = InfraExpressions.All.Where(InfraExpressions.BranchesOnAVariable).Select(e => e.Address).Order(StringComparer.Ordinal).ToList();

        Assert.Equal(Tested.Concat(NotOnAVariable.Keys).Order(StringComparer.Ordinal), branching);
    }

    [Theory]
    [InlineData("{}", "us-central1")]
    [InlineData("""{"bucket_location": null}""", "us-central1")]
    [InlineData("""{"bucket_location": ""}""", "us-central1")]
    [InlineData("""{"bucket_location": "  "}""", "us-central1")]
    [InlineData("""{"bucket_location": null, "region": "europe-west1"}""", "europe-west1")]
    [InlineData("""{"bucket_location": "europe-west4"}""", "europe-west4")]
    public async Task BucketLocation_NullEmptyOrBlankIsTheRegion_SetIsItself(string variables, string expected) =>
        await AssertValueAsync(BucketLocation, variables, JsonValue.Create(expected));

    [Theory]
    [InlineData("{}", "us-central1")]
    [InlineData("""{"firestore_location": null}""", "us-central1")]
    [InlineData("""{"firestore_location": ""}""", "us-central1")]
    [InlineData("""{"firestore_location": "nam5"}""", "nam5")]
    public async Task FirestoreLocation_NullOrEmptyIsTheRegion_SetIsItself(string variables, string expected) =>
        await AssertValueAsync(FirestoreLocation, variables, JsonValue.Create(expected));

    [Theory]
    [InlineData("{}", true)]
    [InlineData("""{"ssh_public_key": null}""", true)]
    [InlineData("""{"ssh_public_key": ""}""", true)]
    [InlineData("""{"ssh_public_key": " \n"}""", true)]
    [InlineData("""{"ssh_public_key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5 spotjax"}""", false)]
    public async Task GenerateSshKey_UnsetNullEmptyOrBlankKey_GeneratesAndAKeyDoesNot(string variables, bool expected) =>
        await AssertValueAsync(GenerateSshKey, variables, JsonValue.Create(expected));

    [Theory]
    [InlineData("{}", "tls_private_key.ssh.public_key_openssh")]
    [InlineData("""{"ssh_public_key": null}""", "tls_private_key.ssh.public_key_openssh")]
    [InlineData("""{"ssh_public_key": ""}""", "tls_private_key.ssh.public_key_openssh")]
    [InlineData("""{"ssh_public_key": " ssh-ed25519 AAAAC3NzaC1lZDI1NTE5 spotjax\n"}""", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5 spotjax")]
    public async Task SshPublicKey_WithoutAKey_IsTheGeneratedOneElseTheTrimmedKey(string variables, string expected) =>
        await AssertValueAsync(SshPublicKey, variables, JsonValue.Create(expected));

    [Theory]
    [InlineData(KeyPairCount, "{}", 1)]
    [InlineData(KeyPairCount, """{"ssh_public_key": null}""", 1)]
    [InlineData(KeyPairCount, """{"ssh_public_key": ""}""", 1)]
    [InlineData(KeyPairCount, """{"ssh_public_key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5 spotjax"}""", 0)]
    [InlineData(KeyVersionCount, "{}", 1)]
    [InlineData(KeyVersionCount, """{"ssh_public_key": null}""", 1)]
    [InlineData(KeyVersionCount, """{"ssh_public_key": ""}""", 1)]
    [InlineData(KeyVersionCount, """{"ssh_public_key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5 spotjax"}""", 0)]
    public async Task GeneratedKeyCounts_OnePairAndSecretVersionOnlyWithoutAKey(string address, string variables, int expected) =>
        await AssertValueAsync(address, variables, JsonValue.Create(expected));

    [Theory]
    [InlineData("{}", "data.google_compute_network.default.self_link")]
    [InlineData("""{"create_default_network": null}""", "data.google_compute_network.default.self_link")]
    [InlineData("""{"create_default_network": false}""", "data.google_compute_network.default.self_link")]
    [InlineData("""{"create_default_network": true}""", "google_compute_network.default.self_link")]
    public async Task TpuNetwork_TheExistingDefaultNetworkUnlessCreated(string variables, string expected) =>
        await AssertValueAsync(TpuNetwork, variables, JsonValue.Create(expected));

    [Theory]
    [InlineData(NetworkCount, "{}", 0)]
    [InlineData(NetworkCount, """{"create_default_network": null}""", 0)]
    [InlineData(NetworkCount, """{"create_default_network": false}""", 0)]
    [InlineData(NetworkCount, """{"create_default_network": true}""", 1)]
    [InlineData(NetworkDataCount, "{}", 1)]
    [InlineData(NetworkDataCount, """{"create_default_network": null}""", 1)]
    [InlineData(NetworkDataCount, """{"create_default_network": false}""", 1)]
    [InlineData(NetworkDataCount, """{"create_default_network": true}""", 0)]
    public async Task NetworkCounts_ExactlyOneOfTheResourceAndTheDataSource(string address, string variables, int expected) =>
        await AssertValueAsync(address, variables, JsonValue.Create(expected));

    [Theory]
    [InlineData("{}", 1)]
    [InlineData("""{"create_firestore_database": null}""", 1)]
    [InlineData("""{"create_firestore_database": true}""", 1)]
    [InlineData("""{"create_firestore_database": false}""", 0)]
    public async Task FirestoreDatabaseCount_CreatedUnlessTurnedOff(string variables, int expected) =>
        await AssertValueAsync(FirestoreCount, variables, JsonValue.Create(expected));

    [Theory]
    [InlineData("{}", "spotjax")]
    [InlineData("""{"deployment_name": null}""", "spotjax")]
    [InlineData("""{"deployment_name": ""}""", "spotjax")]
    [InlineData("""{"deployment_name": null, "name_prefix": "spotjax-stg"}""", "spotjax-stg")]
    [InlineData("""{"deployment_name": "production"}""", "production")]
    public async Task DeploymentName_NullOrEmptyIsTheNamePrefix_SetIsItself(string variables, string expected) =>
        await AssertValueAsync(DeploymentName, variables, JsonValue.Create(expected));

    [Theory]
    [InlineData(NamedFirestoreCount, "{}", 0)]
    [InlineData(NamedFirestoreCount, """{"firestore_database": "(default)"}""", 0)]
    [InlineData(NamedFirestoreCount, """{"firestore_database": "spotjax-staging"}""", 1)]
    public async Task NamedFirestoreDatabase_CreatedOnlyForANameOtherThanDefault(string address, string variables, int expected) =>
        await AssertValueAsync(address, variables, JsonValue.Create(expected));

    [Theory]
    [InlineData(DeploymentNameRule, "{}", true)]
    [InlineData(DeploymentNameRule, """{"deployment_name": ""}""", true)]
    [InlineData(DeploymentNameRule, """{"deployment_name": "prod_eu-1"}""", true)]
    [InlineData(DeploymentNameRule, """{"deployment_name": "Prod"}""", false)]
    [InlineData(DeploymentNameRule, """{"deployment_name": "1st"}""", false)]
    [InlineData(FirestoreDatabaseRule, "{}", true)]
    [InlineData(FirestoreDatabaseRule, """{"firestore_database": "spotjax-staging"}""", true)]
    [InlineData(FirestoreDatabaseRule, """{"firestore_database": "abc"}""", false)]
    [InlineData(FirestoreDatabaseRule, """{"firestore_database": "staging-"}""", false)]
    [InlineData(NamePrefixRule, "{}", true)]
    [InlineData(NamePrefixRule, """{"name_prefix": "spotjax-staging1"}""", true)]
    [InlineData(NamePrefixRule, """{"name_prefix": "spotjax-staging12"}""", false)]
    [InlineData(NamePrefixRule, """{"name_prefix": "spotjax-"}""", false)]
    public async Task DeploymentRules_AcceptLabelValuesDatabaseIdsAndPrefixes_RejectOthersWithTheirMessage(string address, string variables, bool accepted)
    {
        var outcome = await TerraformProbe.EvaluateAsync(address, variables);

        if (accepted)
        {
            Assert.True(outcome.Succeeded && JsonNode.DeepEquals(JsonValue.Create(true), outcome.Value), outcome.ToString());
        }
        else
        {
            var variable = address.Split('.')[1];
            var validation = Hcl.Blocks(InfraConfig.Instance.Variables[variable], "validation").Single();
            var message = Hcl.StringLiteral(Hcl.Value(Hcl.Entries(validation.Value), "error_message"))!;
            Assert.Contains(message, outcome.Error ?? "", StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("{}", "[]")]
    [InlineData("""{"status_viewers": null}""", "[]")]
    [InlineData("""{"status_viewers": []}""", "[]")]
    [InlineData("""{"status_viewers": ["user:ada@example.com"]}""", """["user:ada@example.com"]""")]
    public async Task StatusViewers_OneGrantPerMemberAndNoneWhenUnsetNullOrEmpty(string variables, string expected) =>
        await AssertValueAsync(StatusViewers, variables, JsonNode.Parse(expected));

    [Theory]
    [InlineData("{}", "{}")]
    [InlineData("""{"sweep_zones": null}""", "{}")]
    [InlineData("""{"sweep_zones": []}""", "{}")]
    [InlineData("""{"sweep_zones": ["us-central2-b", "us-west4-a"]}""", """{"SPOTJAX_SWEEP_ZONES": "us-central2-b,us-west4-a"}""")]
    public async Task SweepEnvironment_ZonesJoinedAndLeftOutWhenNone(string variables, string expected)
    {
        var outcome = await TerraformProbe.EvaluateAsync(FunctionEnv, variables);

        Assert.True(outcome.Succeeded, outcome.ToString());
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(expected), outcome.Value!["sweep"]), outcome.ToString());
        Assert.True(JsonNode.DeepEquals(new JsonObject(), outcome.Value!["launch"]), outcome.ToString());
    }

    [Theory]
    [InlineData("{}", true)]
    [InlineData("""{"sweep_zones": null}""", true)]
    [InlineData("""{"sweep_zones": []}""", true)]
    [InlineData("""{"sweep_zones": ["us-central2-b", "europe-west4-a"]}""", true)]
    [InlineData("""{"sweep_zones": [""]}""", false)]
    [InlineData("""{"sweep_zones": ["us-central2"]}""", false)]
    public async Task SweepZonesRule_AcceptsUnsetNullEmptyAndZones_RejectsOthersWithItsMessage(string variables, bool accepted)
    {
        var outcome = await TerraformProbe.EvaluateAsync(SweepZonesRule, variables);

        if (accepted)
        {
            Assert.True(outcome.Succeeded && JsonNode.DeepEquals(JsonValue.Create(true), outcome.Value), outcome.ToString());
        }
        else
        {
            var validation = Hcl.Blocks(InfraConfig.Instance.Variables["sweep_zones"], "validation").Single();
            var message = Hcl.StringLiteral(Hcl.Value(Hcl.Entries(validation.Value), "error_message"))!;
            Assert.Contains(message, outcome.Error ?? "", StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("{}", true)]
    [InlineData("""{"job_secret_prefix": "team-a_"}""", true)]
    [InlineData("""{"job_secret_prefix": ""}""", false)]
    [InlineData("""{"job_secret_prefix": "a/b"}""", false)]
    [InlineData("""{"job_secret_prefix": "x\") || true || (\""}""", false)]
    public async Task JobSecretPrefixRule_AcceptsUnsetAndSecretIdStarts_RejectsOthersWithItsMessage(string variables, bool accepted)
    {
        var outcome = await TerraformProbe.EvaluateAsync(JobSecretPrefixRule, variables);

        if (accepted)
        {
            Assert.True(outcome.Succeeded && JsonNode.DeepEquals(JsonValue.Create(true), outcome.Value), outcome.ToString());
        }
        else
        {
            var validation = Hcl.Blocks(InfraConfig.Instance.Variables["job_secret_prefix"], "validation").Single();
            var message = Hcl.StringLiteral(Hcl.Value(Hcl.Entries(validation.Value), "error_message"))!;
            Assert.Contains(message, outcome.Error ?? "", StringComparison.Ordinal);
        }
    }

    private static async Task AssertValueAsync(string address, string variables, JsonNode? expected)
    {
        var outcome = await TerraformProbe.EvaluateAsync(address, variables);

        Assert.True(outcome.Succeeded, $"{address} with {variables}: {outcome}\n{TerraformProbe.Module(InfraExpressions.At(address))}");
        Assert.True(JsonNode.DeepEquals(expected, outcome.Value), $"{address} with {variables}: expected {expected?.ToJsonString()}, got {outcome}");
    }
}
