using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using SpotJax.Tests.Infra;

namespace SpotJax.Tests.Deploy;

/// <summary>
/// Every name infra/ gives a resource, evaluated by the real terraform (<see cref="TerraformProbe"/>) for
/// several name prefixes: the default gives the names a deployment had before prefixes (so applying it
/// renames nothing), the longest prefix fits every Google Cloud limit, and two prefixes share no name,
/// so two deployments in one project never collide.
/// </summary>
public sealed class TerraformNameTests
{
    private const string LongestPrefix = "spotjax-staging1";

    /// <summary>Pub/Sub topic and subscription ids (https://cloud.google.com/pubsub/docs/reference/rest/v1/projects.topics).</summary>
    private const string PubSub = "^(?!goog)[A-Za-z][-A-Za-z0-9_.~+%]{2,254}$";

    /// <summary>Service account ids: 6 to 30 characters (https://cloud.google.com/iam/docs/reference/rest/v1/projects.serviceAccounts/create).</summary>
    private const string ServiceAccount = "^[a-z][a-z0-9-]{4,28}[a-z0-9]$";

    /// <summary>
    /// Cloud Run service names of at most 49 characters; 50 at most keep the deterministic URL's DNS label
    /// SERVICE-PROJECT_NUMBER (12 digits) within 63 (https://cloud.google.com/run/docs/triggering/https-request).
    /// </summary>
    private const string CloudRun = "^[a-z]([a-z0-9-]{0,47}[a-z0-9])?$";

    /// <summary>Compute Engine names and network tags (RFC 1035, 63 characters at most).</summary>
    private const string Compute = "^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$";

    /// <summary>Cloud Scheduler job ids and Secret Manager secret ids.</summary>
    private const string SchedulerOrSecret = "^[A-Za-z0-9_-]{1,255}$";

    /// <summary>An IAM condition title: at most 100 characters.</summary>
    private const string ConditionTitle = "^.{1,100}$";

    /// <summary>Each name infra/ makes from the prefix, the rule it must follow, and its value with the default prefix.</summary>
    private static readonly (string Address, string Rule, string Default)[] Names =
    [
        ("local.topics", PubSub, """{"bucket_events": "spotjax-bucket-events", "dead_letter": "spotjax-dead-letter", "finish": "spotjax-finish", "job_events": "spotjax-job-events", "jobs": "spotjax-jobs", "launch": "spotjax-launch", "provision": "spotjax-provision", "recover": "spotjax-recover"}"""),
        ("google_pubsub_subscription.push.name", PubSub, """{"bucket-events": "spotjax-bucket-events-push", "finish": "spotjax-finish-push", "launch": "spotjax-launch-push", "notify": "spotjax-notify-push", "provision": "spotjax-provision-push", "recover": "spotjax-recover-push", "submit": "spotjax-submit-push"}"""),
        ("google_pubsub_subscription.dead_letter.name", PubSub, "\"spotjax-dead-letter\""),
        ("google_service_account.function.account_id", ServiceAccount, """{"bucket-events": "spotjax-bucket-events", "finish": "spotjax-finish", "launch": "spotjax-launch", "notify": "spotjax-notify", "provision": "spotjax-provision", "recover": "spotjax-recover", "status": "spotjax-status", "submit": "spotjax-submit", "sweep": "spotjax-sweep"}"""),
        ("google_service_account.invoker.account_id", ServiceAccount, "\"spotjax-invoker\""),
        ("google_service_account.node.account_id", ServiceAccount, "\"spotjax-tpu-node\""),
        ("google_cloud_run_v2_service.function.name", CloudRun, """{"bucket-events": "spotjax-bucket-events", "finish": "spotjax-finish", "launch": "spotjax-launch", "notify": "spotjax-notify", "provision": "spotjax-provision", "recover": "spotjax-recover", "status": "spotjax-status", "submit": "spotjax-submit", "sweep": "spotjax-sweep"}"""),
        ("google_cloud_scheduler_job.function.name", SchedulerOrSecret, """{"sweep": "spotjax-sweep"}"""),
        ("google_secret_manager_secret.ssh_key.secret_id", SchedulerOrSecret, "\"spotjax-ssh-key\""),
        ("local.job_secret_prefix", SchedulerOrSecret, "\"spotjax-job-\""),
        ("google_project_iam_member.node_reads_job_secrets.condition.title", ConditionTitle, "\"spotjax-job-secrets\""),
        ("google_compute_subnetwork.launch_egress.name", Compute, "\"spotjax-launch-egress\""),
        ("google_compute_firewall.launch_ssh.name", Compute, "\"spotjax-allow-ssh-from-launch\""),
        ("google_compute_firewall.tpu_internal.name", Compute, "\"spotjax-tpu-internal\""),
        ("local.network_name", Compute, "\"spotjax-tpu\""),
        ("local.tpu_network_tag", Compute, "\"spotjax-tpu\""),
        ("google_compute_subnetwork.tpu.name", Compute, """{"us-central2": "spotjax-tpu-us-central2"}"""),
        ("google_compute_router.tpu.name", Compute, """{"us-central2": "spotjax-tpu-us-central2"}"""),
        ("google_compute_router_nat.tpu.name", Compute, """{"us-central2": "spotjax-tpu-us-central2"}"""),
    ];

    /// <summary>Name arguments that are not made from the prefix, and why that cannot collide.</summary>
    private static readonly Dictionary<string, string> NotPrefixed = new()
    {
        ["google_artifact_registry_repository.images.repository_id"] = "var.repository, which cloudbuild.yaml sets from _REPOSITORY; the README has a second deployment set it",
        ["google_firestore_database.default.name"] = "the project's one (default) database, created only with create_firestore_database",
        ["google_firestore_database.named.name"] = "var.firestore_database, chosen per deployment",
        ["google_storage_bucket.control.name"] = "var.bucket_name, globally unique",
        ["google_storage_bucket_object.deployment.name"] = "an object in this deployment's own bucket",
        ["google_secret_manager_secret_iam_member.launch_reads_key.secret_id"] = "a reference to the prefixed secret",
        ["google_cloud_run_v2_service_iam_member.invoker.name"] = "a reference to the prefixed service",
        ["google_cloud_run_v2_service_iam_member.status_viewer.name"] = "a reference to the prefixed service",
        ["google_compute_router_nat.tpu.subnetwork.name"] = "a reference to the prefixed subnetwork",
        ["google_pubsub_topic.topic.name"] = "each.value of toset(values(local.topics)), the prefixed topics",
        ["google_compute_network.tpu.name"] = "local.network_name",
        ["data.google_compute_network.tpu.name"] = "local.network_name, an existing network's",
    };

    public static TheoryData<string> Addresses => [.. Names.Select(n => n.Address)];

    /// <summary>A small network, so that the per-region names are few; one long region name to test the limits.</summary>
    private static string Variables(string? prefix, string region = "us-central2") =>
        new JsonObject
        {
            ["tpu_subnets"] = new JsonObject { [region] = "10.30.0.0/20" },
            ["name_prefix"] = prefix,
        }.ToJsonString();

    [Fact]
    public void EveryNameArgumentOfInfra_IsCheckedHereOrNotMadeFromThePrefixForAReason()
    {
        var names = InfraExpressions.All
            .Where(e => e.Resource is not null && e.Key is "name" or "account_id" or "secret_id" or "repository_id" or "title")
            .Where(e => !e.Address.Contains(".env", StringComparison.Ordinal) && !e.Address.Contains(".dynamic.", StringComparison.Ordinal))
            .Select(e => e.Address)
            .ToHashSet(StringComparer.Ordinal);

        var checkedHere = Names.Select(n => n.Address).Where(names.Contains);
        Assert.Equal(names.Order(StringComparer.Ordinal), checkedHere.Concat(NotPrefixed.Keys).Order(StringComparer.Ordinal));
    }

    [Theory]
    [MemberData(nameof(Addresses))]
    public async Task DefaultPrefix_GivesTheNamesOfADeploymentMadeBeforePrefixes(string address)
    {
        var outcome = await TerraformProbe.EvaluateAsync(address, Variables(null));

        Assert.True(outcome.Succeeded, outcome.ToString());
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(Names.Single(n => n.Address == address).Default), outcome.Value), $"{address}: {outcome}");
    }

    [Theory]
    [MemberData(nameof(Addresses))]
    public async Task LongestPrefix_EveryNameFitsItsLimit(string address)
    {
        var rule = new Regex(Names.Single(n => n.Address == address).Rule);

        var outcome = await TerraformProbe.EvaluateAsync(address, Variables(LongestPrefix, "northamerica-northeast1"));

        Assert.True(outcome.Succeeded, outcome.ToString());
        Assert.All(Strings(outcome.Value), name =>
        {
            Assert.Matches(rule, name);
            Assert.StartsWith(LongestPrefix + "-", name, StringComparison.Ordinal);
        });
    }

    [Theory]
    [MemberData(nameof(Addresses))]
    public async Task TwoPrefixes_ShareNoName(string address)
    {
        var staging = await TerraformProbe.EvaluateAsync(address, Variables("staging"));
        var production = await TerraformProbe.EvaluateAsync(address, Variables("production"));

        Assert.True(staging.Succeeded && production.Succeeded, $"{staging} / {production}");
        Assert.Empty(Strings(staging.Value).Intersect(Strings(production.Value)));
        Assert.All(Strings(staging.Value), name => Assert.StartsWith("staging-", name, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Audience_IsThePrefixedServicesDeterministicUrl()
    {
        var outcome = await TerraformProbe.EvaluateAsync("local.audience", Variables("staging"));

        Assert.True(outcome.Succeeded, outcome.ToString());
        Assert.All(outcome.Value!.AsObject(), pair => Assert.StartsWith($"https://staging-{pair.Key}-", pair.Value!.GetValue<string>(), StringComparison.Ordinal));
    }

    [Fact]
    public async Task DeploymentDescriptor_HoldsThePrefixTheDeploymentNameAndTheDatabase()
    {
        var outcome = await TerraformProbe.EvaluateAsync(
            "google_storage_bucket_object.deployment.content",
            """{"name_prefix": "staging", "deployment_name": "", "firestore_database": "spotjax-staging"}""");

        Assert.True(outcome.Succeeded, outcome.ToString());
        Assert.True(
            JsonNode.DeepEquals(JsonNode.Parse("""{"version": 1, "namePrefix": "staging", "deployment": "staging", "firestoreDatabase": "spotjax-staging"}"""), JsonNode.Parse(outcome.Value!.GetValue<string>())),
            outcome.ToString());
    }

    /// <summary>The names in a value: one string, or the values of a map (an argument of a resource with for_each, or a map local).</summary>
    private static IReadOnlyList<string> Strings(JsonNode? value) => value switch
    {
        JsonObject map => map.Select(pair => pair.Value!.GetValue<string>()).ToList(),
        JsonValue one => [one.GetValue<string>()],
        _ => throw new FormatException($"not a name or a map of names: {value?.ToJsonString()}"),
    };
}
