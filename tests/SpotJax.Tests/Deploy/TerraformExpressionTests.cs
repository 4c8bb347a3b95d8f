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
    private const string NetworkInput = "local.network_input";
    private const string NetworkProject = "local.network_project";
    private const string NetworkName = "local.network_name";
    private const string TpuNetwork = "local.tpu_network";
    private const string FirestoreCount = "google_firestore_database.default.count";
    private const string NetworkCount = "google_compute_network.tpu.count";
    private const string NetworkDataCount = "data.google_compute_network.tpu.count";
    private const string TpuSubnets = "google_compute_subnetwork.tpu.for_each";
    private const string TpuSubnetsRule = "variable.tpu_subnets.validation[0].condition";
    private const string TpuSubnetsOverlapRule = "variable.tpu_subnets.validation[1].condition";
    private const string LaunchEgressOverlap = "google_compute_subnetwork.launch_egress.lifecycle.precondition.condition";
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
    private const string JobSecretPrefix = "local.job_secret_prefix";
    private const string WebhookUrlRule = "variable.webhook_url.validation.condition";

    private static readonly string[] Tested =
    [
        BucketLocation, FirestoreLocation, GenerateSshKey, SshPublicKey, NetworkInput, NetworkProject, NetworkName, TpuNetwork,
        FirestoreCount, NetworkCount, NetworkDataCount, TpuSubnets, TpuSubnetsRule, TpuSubnetsOverlapRule, LaunchEgressOverlap,
        KeyPairCount, KeyVersionCount, StatusViewers, FunctionEnv, SweepZonesRule, JobSecretPrefixRule,
        DeploymentName, DeploymentNameRule, NamedFirestoreCount, FirestoreDatabaseRule, NamePrefixRule, JobSecretPrefix,
        WebhookUrlRule,
    ];

    /// <summary>Expressions that branch, and read a variable, but whose branch is not on the variable.</summary>
    private static readonly Dictionary<string, string> NotOnAVariable = new()
    {
        ["google_cloud_run_v2_service.function.custom_audiences"] = "picks the service's own audience by function name; var.region is only part of the value",
        ["google_cloud_run_v2_service.function.template.containers.dynamic.env[0].for_each"] = "filters on the function's trigger; the push settings hold var.region only as a value",
        ["google_cloud_run_v2_service.function.template.containers.dynamic.env[1].for_each"] = "filters on the function's trigger; the step settings hold variables only as values",
        ["google_cloud_run_v2_service.function.for_each"] = "keyed by function name; var.name_prefix is only in the topic values of local.functions (TerraformNameTests)",
        ["google_cloud_run_v2_service_iam_member.invoker.for_each"] = "keyed by function name; var.name_prefix is only in the topic values of local.functions (TerraformNameTests)",
        ["google_cloud_scheduler_job.function.for_each"] = "keyed by function name; var.name_prefix is only in the topic values of local.functions (TerraformNameTests)",
        ["google_pubsub_subscription.push.for_each"] = "keyed by function name; var.name_prefix is only in the topic values of local.functions (TerraformNameTests)",
        ["google_pubsub_subscription_iam_member.dead_letter_subscriber.for_each"] = "keyed by function name; var.name_prefix is only in the topic values of local.functions (TerraformNameTests)",
        ["google_service_account.function.for_each"] = "keyed by function name; var.name_prefix is only in the topic values of local.functions (TerraformNameTests)",
        ["local.invoked"] = "keyed by function name; var.name_prefix is only in the topic values of local.functions (TerraformNameTests)",
        ["local.pushed"] = "keyed by function name; var.name_prefix is only in the topic values of local.functions (TerraformNameTests)",
        ["local.scheduled"] = "keyed by function name; var.name_prefix is only in the topic values of local.functions (TerraformNameTests)",
        ["google_pubsub_topic_iam_member.publisher.for_each"] = "keyed by function and topic name; the topics are the prefixed ones TerraformNameTests evaluates",
        ["google_pubsub_topic.topic.for_each"] = "the prefixed topic names, which TerraformNameTests evaluates for several prefixes",
        ["google_pubsub_topic.topic.message_retention_duration"] = "compares each topic with the dead-letter topic, both named from the same prefix",
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
    [InlineData("{}", "")]
    [InlineData("""{"network": null}""", "")]
    [InlineData("""{"network": " "}""", "")]
    [InlineData("""{"network": " corp-vpc "}""", "corp-vpc")]
    public async Task NetworkInput_NullEmptyOrBlankIsNone_SetIsTrimmed(string variables, string expected) =>
        await AssertValueAsync(NetworkInput, variables, JsonValue.Create(expected));

    [Theory]
    [InlineData("{}", "my-project", "spotjax-tpu")]
    [InlineData("""{"network": null, "name_prefix": "staging"}""", "my-project", "staging-tpu")]
    [InlineData("""{"network": ""}""", "my-project", "spotjax-tpu")]
    [InlineData("""{"network": "corp-vpc"}""", "my-project", "corp-vpc")]
    [InlineData("""{"network": "projects/net-host/global/networks/shared"}""", "net-host", "shared")]
    [InlineData("""{"network": "https://www.googleapis.com/compute/v1/projects/net-host/global/networks/shared"}""", "net-host", "shared")]
    public async Task NetworkProjectAndName_CreatedInTheProject_ABareNameInTheProject_AFullNameInItsOwnProject(string variables, string project, string name)
    {
        await AssertValueAsync(NetworkProject, variables, JsonValue.Create(project));
        await AssertValueAsync(NetworkName, variables, JsonValue.Create(name));
    }

    [Theory]
    [InlineData("{}", "google_compute_network.tpu.id")]
    [InlineData("""{"network": null}""", "google_compute_network.tpu.id")]
    [InlineData("""{"network": ""}""", "google_compute_network.tpu.id")]
    [InlineData("""{"network": "projects/net-host/global/networks/shared"}""", "data.google_compute_network.tpu.id")]
    public async Task TpuNetwork_TheCreatedNetworkUnlessOneIsGiven(string variables, string expected) =>
        await AssertValueAsync(TpuNetwork, variables, JsonValue.Create(expected));

    [Theory]
    [InlineData(NetworkCount, "{}", 1)]
    [InlineData(NetworkCount, """{"network": null}""", 1)]
    [InlineData(NetworkCount, """{"network": " "}""", 1)]
    [InlineData(NetworkCount, """{"network": "corp-vpc"}""", 0)]
    [InlineData(NetworkDataCount, "{}", 0)]
    [InlineData(NetworkDataCount, """{"network": null}""", 0)]
    [InlineData(NetworkDataCount, """{"network": " "}""", 0)]
    [InlineData(NetworkDataCount, """{"network": "corp-vpc"}""", 1)]
    public async Task NetworkCounts_ExactlyOneOfTheResourceAndTheDataSource(string address, string variables, int expected) =>
        await AssertValueAsync(address, variables, JsonValue.Create(expected));

    [Theory]
    [InlineData("{}", """["europe-west4", "us-central1", "us-central2", "us-east1", "us-east5", "us-west4"]""")]
    [InlineData("""{"tpu_subnets": {"us-central2": "10.30.0.0/20"}}""", """["us-central2"]""")]
    public async Task TpuSubnets_OnePerRegionListed(string variables, string regions)
    {
        var outcome = await TerraformProbe.EvaluateAsync(TpuSubnets, variables);

        Assert.True(outcome.Succeeded, outcome.ToString());
        Assert.Equal(JsonNode.Parse(regions)!.AsArray().Select(r => r!.GetValue<string>()), outcome.Value!.AsObject().Select(p => p.Key).Order(StringComparer.Ordinal));
    }

    [Theory]
    [InlineData("{}", true)]
    [InlineData("""{"tpu_subnets": {"us-central2": "10.30.0.0/20", "europe-west4": "192.168.0.0/24"}}""", true)]
    [InlineData("""{"tpu_subnets": {}}""", false)]
    [InlineData("""{"tpu_subnets": {"us-central2-b": "10.30.0.0/20"}}""", false)]
    [InlineData("""{"tpu_subnets": {"us-central2": "10.30.0.0"}}""", false)]
    [InlineData("""{"tpu_subnets": {"us-central2": "10.30.0.0/30"}}""", false)]
    [InlineData("""{"tpu_subnets": {"us-central2": "10.300.0.0/20"}}""", false)]
    [InlineData("""{"tpu_subnets": {"us-central2": "fd00::/64"}}""", false)]
    public async Task TpuSubnetsRule_AcceptsRegionsToIpv4Ranges_RejectsOthersWithItsMessage(string variables, bool accepted) =>
        await AssertRuleAsync(TpuSubnetsRule, "tpu_subnets", 0, variables, accepted);

    [Theory]
    [InlineData("{}", true)]
    [InlineData("""{"tpu_subnets": {"us-central2": "10.30.0.0/20", "us-east5": "10.30.16.0/20"}}""", true)]
    [InlineData("""{"tpu_subnets": {"us-central2": "10.30.0.0/20", "us-east5": "10.30.8.0/24"}}""", false)]
    [InlineData("""{"tpu_subnets": {"us-central2": "10.0.0.0/8", "us-east5": "10.200.0.0/16"}}""", false)]
    [InlineData("""{"tpu_subnets": {"us-central2": "10.30.0.0/20", "us-east5": "10.30.0.0/20"}}""", false)]
    public async Task TpuSubnetsOverlapRule_RejectsOverlappingRangesWithItsMessage(string variables, bool accepted) =>
        await AssertRuleAsync(TpuSubnetsOverlapRule, "tpu_subnets", 1, variables, accepted);

    [Theory]
    [InlineData("{}", true)]
    [InlineData("""{"launch_egress_cidr": "10.20.0.0/24"}""", false)]
    [InlineData("""{"launch_egress_cidr": "10.0.0.0/8"}""", false)]
    [InlineData("""{"launch_egress_cidr": "10.20.95.0/24"}""", false)]
    [InlineData("""{"launch_egress_cidr": "10.20.96.0/24"}""", true)]
    public async Task LaunchEgressOverlap_TrueUnlessTheEgressRangeOverlapsATpuSubnet(string variables, bool expected) =>
        await AssertValueAsync(LaunchEgressOverlap, variables, JsonValue.Create(expected));

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
    [InlineData(NamePrefixRule, """{"name_prefix": "google"}""", false)]
    [InlineData(NamePrefixRule, """{"name_prefix": "gooseberry"}""", true)]
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
        // launch's own setting is its service account's email whatever the variables (the probe shows the reference).
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""{"SPOTJAX_LAUNCH_SERVICE_ACCOUNT": "google_service_account.function.email"}"""), outcome.Value!["launch"]), outcome.ToString());
        Assert.All(outcome.Value!.AsObject().Where(f => f.Key is not ("sweep" or "launch" or "notify")), f => Assert.True(JsonNode.DeepEquals(new JsonObject(), f.Value), outcome.ToString()));
    }

    [Theory]
    [InlineData("{}", """{"SPOTJAX_WEBHOOK_FORMAT": "json"}""")]
    [InlineData("""{"webhook_url": null, "webhook_format": null}""", """{"SPOTJAX_WEBHOOK_FORMAT": "json"}""")]
    [InlineData("""{"webhook_url": ""}""", """{"SPOTJAX_WEBHOOK_FORMAT": "json"}""")]
    [InlineData("""{"webhook_url": "https://hooks.slack.com/services/T0/B0/x", "webhook_format": "slack"}""", """{"SPOTJAX_WEBHOOK_URL": "https://hooks.slack.com/services/T0/B0/x", "SPOTJAX_WEBHOOK_FORMAT": "slack"}""")]
    public async Task NotifyEnvironment_UrlLeftOutWhenUnsetNullOrEmpty(string variables, string expected)
    {
        var outcome = await TerraformProbe.EvaluateAsync(FunctionEnv, variables);

        Assert.True(outcome.Succeeded, outcome.ToString());
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(expected), outcome.Value!["notify"]), outcome.ToString());
    }

    [Theory]
    [InlineData("{}", true)]
    [InlineData("""{"webhook_url": null}""", true)]
    [InlineData("""{"webhook_url": ""}""", true)]
    [InlineData("""{"webhook_url": "https://hooks.example.com/h/1?x=y"}""", true)]
    [InlineData("""{"webhook_url": "http://hooks.example.com/h"}""", false)]
    [InlineData("""{"webhook_url": "https://user:pw@hooks.example.com/h"}""", false)]
    [InlineData("""{"webhook_url": "https://hooks.example.com/a b"}""", false)]
    public async Task WebhookUrlRule_AcceptsUnsetNullEmptyAndHttps_RejectsOthersWithItsMessage(string variables, bool accepted)
    {
        var outcome = await TerraformProbe.EvaluateAsync(WebhookUrlRule, variables);

        if (accepted)
        {
            Assert.True(outcome.Succeeded && JsonNode.DeepEquals(JsonValue.Create(true), outcome.Value), outcome.ToString());
        }
        else
        {
            var validation = Hcl.Blocks(InfraConfig.Instance.Variables["webhook_url"], "validation").Single();
            var message = Hcl.StringLiteral(Hcl.Value(Hcl.Entries(validation.Value), "error_message"))!;
            Assert.Contains(message, outcome.Error ?? "", StringComparison.Ordinal);
        }
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
    [InlineData("""{"job_secret_prefix": null}""", true)]
    [InlineData("""{"job_secret_prefix": ""}""", true)]
    [InlineData("""{"job_secret_prefix": "team-a_"}""", true)]
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

    [Theory]
    [InlineData("{}", "spotjax-job-")]
    [InlineData("""{"job_secret_prefix": null, "name_prefix": "staging"}""", "staging-job-")]
    [InlineData("""{"job_secret_prefix": "", "name_prefix": "staging"}""", "staging-job-")]
    [InlineData("""{"job_secret_prefix": "team-a_", "name_prefix": "staging"}""", "team-a_")]
    public async Task JobSecretPrefix_NullOrEmptyIsThePrefixsJobSecrets_SetIsItself(string variables, string expected) =>
        await AssertValueAsync(JobSecretPrefix, variables, JsonValue.Create(expected));

    [Theory]
    [InlineData("{}", true)]
    [InlineData("""{"name_prefix": "staging"}""", true)]
    [InlineData("""{"name_prefix": "a"}""", true)]
    [InlineData("""{"name_prefix": ""}""", false)]
    [InlineData("""{"name_prefix": "Staging"}""", false)]
    [InlineData("""{"name_prefix": "staging-"}""", false)]
    [InlineData("""{"name_prefix": "a-very-long-prefix"}""", false)]
    public async Task NamePrefixRule_AcceptsShortLowercaseNames_RejectsOthersWithItsMessage(string variables, bool accepted) =>
        await AssertRuleAsync(NamePrefixRule, "name_prefix", 0, variables, accepted);

    private static async Task AssertRuleAsync(string address, string variable, int rule, string variables, bool accepted)
    {
        var outcome = await TerraformProbe.EvaluateAsync(address, variables);

        if (accepted)
        {
            Assert.True(outcome.Succeeded && JsonNode.DeepEquals(JsonValue.Create(true), outcome.Value), outcome.ToString());
        }
        else
        {
            var validation = Hcl.Blocks(InfraConfig.Instance.Variables[variable], "validation")[rule];
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
