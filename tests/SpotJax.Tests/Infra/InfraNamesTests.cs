using System.Collections;
using System.Reflection;
using SpotJax.Core;
using SpotJax.Core.Steps;
using SpotJax.Functions;
using SpotJax.Functions.Host;
using SpotJax.Google;
using SpotJax.Local.State;

namespace SpotJax.Tests.Infra;

/// <summary>
/// The names infra/ uses against the names the code reads: functions and their FUNCTION_TARGET,
/// topics and which function each one is pushed to, environment variables, the secret, the bucket
/// prefixes. Every list is read from the code at test time, so a function, topic or variable added
/// to the code and missing from infra/ fails here.
/// </summary>
public sealed class InfraNamesTests
{
    private static readonly InfraConfig Infra = InfraConfig.Instance;

    /// <summary>Topics that only infra/ knows, with the default prefix: the bucket's notifications and the dead letters.</summary>
    private const string BucketEventsTopic = "spotjax-bucket-events";
    private const string DeadLetterTopic = "spotjax-dead-letter";

    /// <summary>The default prefix, one of the longest (16 characters) and a short one.</summary>
    public static TheoryData<string> Prefixes => [NamePrefix.Default, "spotjax-staging1", "a"];

    public static TheoryData<string> FunctionNamesOfTheHost => [.. FunctionNames.All];

    public static TheoryData<string> CodeTopics => [.. Topics.Default.All];

    [Theory]
    [MemberData(nameof(FunctionNamesOfTheHost))]
    public void Functions_FunctionOfTheHost_HasACloudRunService(string function)
    {
        Assert.True(Infra.Functions.ContainsKey(function), $"infra/locals.tf functions has no entry for '{function}' (FunctionNames.All): it would not be deployed");
        Assert.Contains(function, Infra.ListMap("project_roles").Keys);
        Assert.Contains(function, Infra.ListMap("publishes").Keys);
    }

    [Fact]
    public void Functions_EveryDeployedTarget_IsAcceptedByTheHost()
    {
        foreach (var target in Infra.Functions.Keys)
        {
            var options = FunctionHostOptions.FromEnvironment(new Hashtable { [FunctionHostOptions.TargetVariable] = target });

            Assert.Equal(target, options.Target);
        }

        Assert.Equal(FunctionNames.All.Order(StringComparer.Ordinal), Infra.Functions.Keys.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void CloudRunService_OnePerFunction_RunsTheImageWithFunctionTargetSetToItsKey()
    {
        var service = Infra.Resource("google_cloud_run_v2_service.function");
        var template = Assert.Single(Hcl.Blocks(service, "template")).Value;
        var container = Assert.Single(Hcl.Blocks(Hcl.Entries(template), "containers")).Value;
        var env = Hcl.Blocks(Hcl.Entries(container), "env")
            .Select(b => Hcl.Entries(b.Value))
            .Where(e => e.Any(x => x.Key == "name" && !x.IsBlock))
            .ToDictionary(e => Hcl.StringLiteral(Hcl.Value(e, "name"))!, e => Hcl.Value(e, "value"));

        Assert.Equal("local.functions", Hcl.Value(service, "for_each"));
        Assert.Equal("\"${var.name_prefix}-${each.key}\"", Hcl.Value(service, "name"));
        Assert.Equal("var.image", Hcl.Value(Hcl.Entries(container), "image"));
        Assert.Equal("each.key", env[FunctionHostOptions.TargetVariable]);
        Assert.Equal("var.project_id", env[Deployment.ProjectVariable]);
        Assert.Equal("google_storage_bucket.control.name", env[Deployment.BucketVariable]);
        Assert.Equal("google_service_account.function[each.key].email", Hcl.Value(Hcl.Entries(template), "service_account"));
    }

    [Theory]
    [MemberData(nameof(Prefixes))]
    public void Functions_EachTopicOfTheCode_IsPushedToTheFunctionThatHandlesIt(string prefix)
    {
        var byTopic = HandlersByTopic(new Topics(prefix));

        Assert.NotEmpty(byTopic);
        foreach (var (topic, function) in byTopic)
        {
            Assert.True(Infra.Functions.ContainsKey(function), $"{function} (handles {topic}) is not deployed");
            Assert.Equal("topic", Infra.FunctionSetting(function, "trigger"));
            Assert.Equal(topic, Infra.FunctionTopic(function, prefix));
        }

        // No other function is pushed from a step topic: bucket-events has its own, the rest none.
        var pushed = Infra.Functions.Keys.Where(f => Infra.FunctionSetting(f, "trigger") == "topic").ToList();
        Assert.Equal(new[] { FunctionNames.BucketEvents }, pushed.Except(byTopic.Values));
    }

    [Fact]
    public void Functions_Triggers_AreTheDeliveriesTheHostDecodesForEachFunction()
    {
        // bucket-events takes Storage notifications pushed from its topic, sweep a Scheduler call.
        Assert.Equal("topic", Infra.FunctionSetting(FunctionNames.BucketEvents, "trigger"));
        Assert.Equal(BucketEventsTopic, Infra.FunctionTopic(FunctionNames.BucketEvents, NamePrefix.Default));
        Assert.Equal("schedule", Infra.FunctionSetting(FunctionNames.Sweep, "trigger"));
        Assert.Null(Infra.FunctionTopic(FunctionNames.Sweep, NamePrefix.Default));
        Assert.All(Infra.Functions.Keys, f => Assert.Contains(Infra.FunctionSetting(f, "trigger") ?? "", new[] { "topic", "schedule", "http" }));
        Assert.All(
            Infra.Functions.Keys.Where(f => Infra.FunctionSetting(f, "trigger") == "topic"),
            f => Assert.NotNull(Infra.FunctionTopic(f, NamePrefix.Default)));
    }

    [Fact]
    public void PushSubscription_Endpoint_IsTheServiceOfTheFunctionOfItsTopicWithOidcAndDeadLetters()
    {
        var subscription = Infra.Resource("google_pubsub_subscription.push");
        var push = Hcl.Entries(Assert.Single(Hcl.Blocks(subscription, "push_config")).Value);
        var oidc = Hcl.Entries(Assert.Single(Hcl.Blocks(push, "oidc_token")).Value);
        var deadLetter = Hcl.Entries(Assert.Single(Hcl.Blocks(subscription, "dead_letter_policy")).Value);

        // One subscription per pushed function; its topic is that function's topic and its endpoint that function's service.
        Assert.Equal("local.pushed", Hcl.Value(subscription, "for_each"));
        Assert.Equal("{ for name, f in local.functions : name => f if f.trigger == \"topic\" }", InfraConfig.Normalize(Infra.Locals["pushed"]));
        Assert.Equal("google_pubsub_topic.topic[each.value.topic].id", Hcl.Value(subscription, "topic"));
        Assert.Equal("google_cloud_run_v2_service.function[each.key].uri", Hcl.Value(push, "push_endpoint"));
        Assert.Equal("google_service_account.invoker.email", Hcl.Value(oidc, "service_account_email"));
        Assert.Equal("local.audience[each.key]", Hcl.Value(oidc, "audience"));
        Assert.Single(Hcl.Blocks(subscription, "retry_policy"));
        Assert.Equal("google_pubsub_topic.topic[local.topics.dead_letter].id", Hcl.Value(deadLetter, "dead_letter_topic"));
        Assert.Equal(DeadLetterTopic, Infra.Topics(NamePrefix.Default)["dead_letter"]);
    }

    [Fact]
    public void PushSubscription_AckDeadline_FitsPubSubAndTheServiceTimeout()
    {
        foreach (var function in Infra.Functions.Keys.Where(f => Infra.FunctionSetting(f, "trigger") == "topic"))
        {
            var ack = int.Parse(Hcl.Value(Infra.Functions[function], "ack_deadline_seconds"), System.Globalization.CultureInfo.InvariantCulture);
            var timeout = int.Parse(Hcl.Value(Infra.Functions[function], "timeout_seconds"), System.Globalization.CultureInfo.InvariantCulture);

            Assert.InRange(ack, 10, 600);
            Assert.True(timeout >= ack, $"{function}: a Cloud Run timeout of {timeout}s cuts the request before Pub/Sub's {ack}s deadline");
        }
    }

    [Fact]
    public void Launch_RequestTimeout_EndsBeforePubSubRedeliversAndWithinTheLaunchLease()
    {
        var launch = Infra.Functions["launch"];
        var ack = int.Parse(Hcl.Value(launch, "ack_deadline_seconds"), System.Globalization.CultureInfo.InvariantCulture);
        var timeout = int.Parse(Hcl.Value(launch, "timeout_seconds"), System.Globalization.CultureInfo.InvariantCulture);

        // The agents prepare on their own: a launch that outlived its push would be delivered again while it ran.
        Assert.Equal(ack, timeout);
        Assert.True(TimeSpan.FromSeconds(timeout) < new SpotJax.Core.Lifecycle.LifecycleOptions().LaunchLease, "a launch still running would be taken for a crashed one");
    }

    [Theory]
    [MemberData(nameof(CodeTopics))]
    public void Topics_TopicOfTheCode_IsCreated(string topic)
    {
        Assert.Contains(topic, Infra.Topics(NamePrefix.Default).Values);
    }

    [Theory]
    [MemberData(nameof(Prefixes))]
    public void Topics_EveryTopicInfraNames_IsACodeTopicOrOneOfInfrasOwnWithTheSamePrefix(string prefix)
    {
        var topics = Infra.Topics(prefix);
        var known = new Topics(prefix).All.Append($"{prefix}-bucket-events").Append($"{prefix}-dead-letter").ToHashSet();
        var named = topics.Values
            .Concat(Infra.Publishes(prefix).Values.SelectMany(t => t))
            .Concat(Infra.Functions.Keys.Select(f => Infra.FunctionTopic(f, prefix)).OfType<string>());

        Assert.All(new Topics(prefix).All, t => Assert.Contains(t, topics.Values));
        Assert.All(named, t => Assert.Contains(t, known));
        Assert.Equal("toset(values(local.topics))", Hcl.Value(Infra.Resource("google_pubsub_topic.topic"), "for_each"));
    }

    [Fact]
    public void Publishes_EachFunction_PublishesOnlyToTopicsOfItsOwnPrefix()
    {
        var staging = Infra.Publishes("staging");

        Assert.Equal(Infra.Functions.Keys.Order(StringComparer.Ordinal), staging.Keys.Order(StringComparer.Ordinal));
        Assert.All(staging.Values.SelectMany(t => t), t => Assert.StartsWith("staging-", t, StringComparison.Ordinal));
        Assert.Equal([Topics.Default.Provision, Topics.Default.Finish, Topics.Default.JobEvents], Infra.Publishes(NamePrefix.Default)[FunctionNames.Submit]);
    }

    [Fact]
    public void BucketNotification_FinalizeEvents_GoToTheBucketEventsTopicInTheShapeTheHostDecodes()
    {
        var notification = Infra.Resource("google_storage_notification.finalize");

        Assert.Equal("google_storage_bucket.control.name", Hcl.Value(notification, "bucket"));
        Assert.Equal("google_pubsub_topic.topic[local.topics.bucket_events].id", Hcl.Value(notification, "topic"));
        Assert.Equal(BucketEventsTopic, Infra.Topics(NamePrefix.Default)["bucket_events"]);
        // EventDecoder reads attributes eventType=OBJECT_FINALIZE, bucketId, objectId and the JSON object resource.
        Assert.Equal("\"JSON_API_V1\"", Hcl.Value(notification, "payload_format"));
        Assert.Equal(new[] { "OBJECT_FINALIZE" }, Hcl.StringList(Hcl.Value(notification, "event_types")));
        Assert.DoesNotContain(notification, e => e.Key == "object_name_prefix");
    }

    [Fact]
    public void DeploymentDescriptor_TerraformWritesExactlyTheKeysTheCodeReads_AtTheTopOfTheControlBucket()
    {
        var descriptor = Infra.Resource("google_storage_bucket_object.deployment");
        var content = Hcl.Value(descriptor, "content").Trim();
        Assert.StartsWith("jsonencode(", content, StringComparison.Ordinal);
        var written = Hcl.Object(content["jsonencode(".Length..^1]).ToDictionary(e => e.Key, e => e.Value);

        Assert.Equal(DeploymentDescriptor.JsonNames.Order(StringComparer.Ordinal), written.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(DeploymentDescriptor.CurrentVersion.ToString(System.Globalization.CultureInfo.InvariantCulture), written["version"]);
        Assert.Equal("var.name_prefix", written["namePrefix"]);
        Assert.Equal("local.deployment_name", written["deployment"]);
        Assert.Equal("var.firestore_database", written["firestoreDatabase"]);
        Assert.Equal($"\"{DeploymentDescriptor.ObjectName}\"", Hcl.Value(descriptor, "name"));
        Assert.Equal("google_storage_bucket.control.name", Hcl.Value(descriptor, "bucket"));
        Assert.Equal("\"application/json\"", Hcl.Value(descriptor, "content_type"));
        Assert.Null(BucketLayout.JobIdOf(DeploymentDescriptor.ObjectName));
    }

    [Fact]
    public void Scheduler_ScheduledFunction_IsCalledOverHttpWithTheInvokersToken()
    {
        var job = Infra.Resource("google_cloud_scheduler_job.function");
        var http = Hcl.Entries(Assert.Single(Hcl.Blocks(job, "http_target")).Value);
        var oidc = Hcl.Entries(Assert.Single(Hcl.Blocks(http, "oidc_token")).Value);

        Assert.Equal("local.scheduled", Hcl.Value(job, "for_each"));
        Assert.Equal("{ for name, f in local.functions : name => f if f.trigger == \"schedule\" }", InfraConfig.Normalize(Infra.Locals["scheduled"]));
        Assert.Equal("google_cloud_run_v2_service.function[each.key].uri", Hcl.Value(http, "uri"));
        Assert.Equal("\"POST\"", Hcl.Value(http, "http_method"));
        Assert.Equal("google_service_account.invoker.email", Hcl.Value(oidc, "service_account_email"));
        Assert.Equal("local.audience[each.key]", Hcl.Value(oidc, "audience"));
    }

    [Fact]
    public void EnvironmentVariables_EveryNameInfraSets_IsAConstantTheHostReads()
    {
        var read = HostVariables();
        var set = InfraVariables();

        Assert.NotEmpty(set);
        Assert.All(set, name => Assert.True(read.Contains(name), $"infra/ sets {name}, which no constant of the functions host names"));
    }

    [Theory]
    [InlineData(FunctionHostOptions.TargetVariable)]
    [InlineData(FunctionHostOptions.ProjectVariable)]
    [InlineData(FunctionHostOptions.AudienceVariable)]
    [InlineData(FunctionHostOptions.ServiceAccountVariable)]
    [InlineData(Deployment.BucketVariable)]
    [InlineData(Deployment.WorkersVariable)]
    [InlineData(Deployment.SshUserVariable)]
    [InlineData(Deployment.SshPublicKeyVariable)]
    [InlineData(Deployment.SshKeySecretVariable)]
    [InlineData(Deployment.NodeServiceAccountVariable)]
    [InlineData(Deployment.SweepZonesVariable)]
    [InlineData(Deployment.TpuNetworkVariable)]
    [InlineData(Deployment.TpuSubnetworksVariable)]
    [InlineData(Deployment.TpuNetworkTagsVariable)]
    [InlineData(Deployment.TpuExternalIpsVariable)]
    [InlineData(Deployment.SshLoginVariable)]
    [InlineData(Deployment.LaunchServiceAccountVariable)]
    [InlineData(Deployment.DeploymentVariable)]
    [InlineData(Deployment.FirestoreDatabaseVariable)]
    [InlineData(Deployment.NamePrefixVariable)]
    public void EnvironmentVariables_ProductionSetting_IsSetByInfra(string variable)
    {
        Assert.Contains(variable, InfraVariables());
    }

    [Theory]
    [InlineData(Deployment.BucketDirVariable)]
    [InlineData(Deployment.StorageApiVariable)]
    [InlineData(Deployment.StateDbVariable)]
    [InlineData(Deployment.NodesRootVariable)]
    [InlineData(Deployment.SshKeyFileVariable)]
    [InlineData(Deployment.LifecycleScaleVariable)]
    [InlineData(FunctionHostOptions.LoopbackVariable)]
    [InlineData(GoogleEndpoints.PubSubEmulatorHostVariable)]
    [InlineData(GoogleEndpoints.FirestoreEmulatorHostVariable)]
    [InlineData(GoogleEndpoints.TpuApiVariable)]
    public void EnvironmentVariables_LocalStandIn_IsNeverSetInProduction(string variable)
    {
        Assert.DoesNotContain(variable, InfraVariables());
        Assert.DoesNotContain($"\"{variable}\"", Infra.Code, StringComparison.Ordinal);
    }

    [Fact]
    public void EnvironmentVariables_StepSettings_PointAtTheSecretTheAccountsAndSsh()
    {
        var step = Hcl.Object(Infra.Locals["step_env"]).ToDictionary(e => e.Key, e => e.Value);
        var push = PushEnv().ToDictionary(e => e.Key, e => e.Value);

        Assert.Equal("\"ssh\"", step[Deployment.WorkersVariable]);
        Assert.Equal("google_secret_manager_secret.ssh_key.secret_id", step[Deployment.SshKeySecretVariable]);
        Assert.Equal("local.ssh_public_key", step[Deployment.SshPublicKeyVariable]);
        Assert.Equal("var.ssh_user", step[Deployment.SshUserVariable]);
        Assert.Equal("google_service_account.node.email", step[Deployment.NodeServiceAccountVariable]);
        Assert.Equal("lookup(local.audience, name, \"\")", push[FunctionHostOptions.AudienceVariable]);
        Assert.Equal("google_service_account.invoker.email", push[FunctionHostOptions.ServiceAccountVariable]);
        Assert.Equal($"\"{Deployment.DefaultSshUser}\"", Hcl.Value(Infra.Variables["ssh_user"], "default"));
    }

    [Fact]
    public void EnvironmentVariables_SweepZones_AreSetOnTheSweepAloneFromTheSweepZonesVariable()
    {
        var own = FunctionEnv();
        var variable = Infra.Variables["sweep_zones"];
        var service = Infra.Resource("google_cloud_run_v2_service.function");
        var template = Assert.Single(Hcl.Blocks(service, "template")).Value;
        var container = Assert.Single(Hcl.Blocks(Hcl.Entries(template), "containers")).Value;
        var forEach = Hcl.Blocks(Hcl.Entries(container), "dynamic")
            .Where(b => b.Labels.SequenceEqual(["env"]))
            .Select(b => InfraConfig.Normalize(Hcl.Value(Hcl.Entries(b.Value), "for_each")));

        Assert.DoesNotContain(own, f => f.Key != FunctionNames.Sweep && f.Value.Any(e => e.Key == Deployment.SweepZonesVariable));
        Assert.Equal("join(\",\", var.sweep_zones)", Assert.Single(own[FunctionNames.Sweep]).Value);
        Assert.Equal(Deployment.SweepZonesVariable, Assert.Single(own[FunctionNames.Sweep]).Key);
        Assert.Contains("{ for name, value in lookup(local.function_env, each.key, {}) : name => value if value != \"\" }", forEach);
        Assert.Equal("list(string)", Hcl.Value(variable, "type"));
        Assert.Equal("[]", Hcl.Value(variable, "default"));
        Assert.Single(Hcl.Blocks(variable, "validation"));
    }

    [Fact]
    public void EnvironmentVariables_LaunchServiceAccount_IsSetOnLaunchAloneFromItsOwnAccount()
    {
        var own = FunctionEnv();

        Assert.Equal([FunctionNames.Launch, FunctionNames.Notify, FunctionNames.Sweep], own.Keys.Order(StringComparer.Ordinal));
        var entry = Assert.Single(own[FunctionNames.Launch]);
        Assert.Equal(Deployment.LaunchServiceAccountVariable, entry.Key);
        Assert.Equal("google_service_account.function[\"launch\"].email", entry.Value);
    }

    [Fact]
    public void Secret_SshKey_IsTheSecretLaunchReadsAndOnlyLaunchMayAccessIt()
    {
        var secret = Infra.Resource("google_secret_manager_secret.ssh_key");
        var access = Infra.Resources.Where(r => r.Value.Any(e => e.Key == "role" && e.Value == "\"roles/secretmanager.secretAccessor\"")).ToList();

        Assert.Equal("\"${var.name_prefix}-ssh-key\"", Hcl.Value(secret, "secret_id"));
        var grant = Assert.Single(access, r => r.Value.Any(e => e.Key == "secret_id"));
        Assert.Equal("google_secret_manager_secret.ssh_key.id", Hcl.Value(grant.Value, "secret_id"));
        Assert.Equal($"\"serviceAccount:${{google_service_account.function[\"{FunctionNames.Launch}\"].email}}\"", Hcl.Value(grant.Value, "member"));
        Assert.Equal(["google_project_iam_member.node_reads_job_secrets", "google_secret_manager_secret_iam_member.launch_reads_key"], access.Select(r => r.Key).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void JobSecrets_NodeAccount_ReadsOnlySecretsWithTheJobPrefix()
    {
        var grant = Infra.Resource("google_project_iam_member.node_reads_job_secrets");
        var prefix = Infra.Variables["job_secret_prefix"];

        Assert.Equal("\"roles/secretmanager.secretAccessor\"", Hcl.Value(grant, "role"));
        Assert.Equal("\"serviceAccount:${google_service_account.node.email}\"", Hcl.Value(grant, "member"));
        var condition = Hcl.Entries(Assert.Single(Hcl.Blocks(grant, "condition")).Value);
        // IAM names a secret by project number: projects/NUMBER/secrets/ID (and .../versions/V under it).
        Assert.Equal(
            "\"resource.name.startsWith(\\\"projects/${local.project_number}/secrets/${local.job_secret_prefix}\\\")\"",
            Hcl.Value(condition, "expression"));
        Assert.Equal("null", Hcl.Value(prefix, "default"));
        // Unset, the deployment's own prefix: spotjax-job- by default, and never another deployment's secrets.
        Assert.Contains("\"${var.name_prefix}-job-\"", Infra.Locals["job_secret_prefix"], StringComparison.Ordinal);
        Assert.Single(Hcl.Blocks(prefix, "validation"));
    }

    [Fact]
    public void Bucket_LifecyclePrefixes_AreFoldersOfTheBucketLayout()
    {
        var layout = new[] { BucketLayout.ManifestPrefix, BucketLayout.CodePrefix, BucketLayout.RequirementsCachePrefix };
        var bucket = Infra.Resource("google_storage_bucket.control");
        var prefixes = Hcl.Blocks(bucket, "lifecycle_rule")
            .SelectMany(r => Hcl.Blocks(Hcl.Entries(r.Value), "condition"))
            .SelectMany(c => Hcl.Entries(c.Value).Where(e => e.Key == "matches_prefix"))
            .SelectMany(e => Hcl.StringList(e.Value))
            .ToList();

        Assert.Equal(layout.Order(StringComparer.Ordinal), prefixes.Order(StringComparer.Ordinal));
        Assert.Equal("var.bucket_name", Hcl.Value(bucket, "name"));
        Assert.Equal("false", Hcl.Value(bucket, "force_destroy"));
    }

    [Fact]
    public void Launch_ReachesTheWorkersInternalAddresses_ThroughDirectVpcEgressAndAnSshFirewallRule()
    {
        var firewall = Infra.Resource("google_compute_firewall.launch_ssh");
        var allow = Hcl.Entries(Assert.Single(Hcl.Blocks(firewall, "allow")).Value);
        var egress = Infra.Functions.Keys.Where(f => Hcl.Value(Infra.Functions[f], "vpc_egress") == "true").ToList();

        Assert.Equal(new[] { FunctionNames.Launch }, egress);
        Assert.Equal("\"tcp\"", Hcl.Value(allow, "protocol"));
        Assert.Equal(new[] { "22" }, Hcl.StringList(Hcl.Value(allow, "ports")));
        Assert.Equal("[google_compute_subnetwork.launch_egress.ip_cidr_range]", Hcl.Value(firewall, "source_ranges"));
        Assert.Equal("local.tpu_network", Hcl.Value(firewall, "network"));
        Assert.Equal("local.tpu_network", Hcl.Value(Infra.Resource("google_compute_subnetwork.launch_egress"), "network"));
        // Only the TPU VMs, by the tag provisioning puts on them (SPOTJAX_TPU_NETWORK_TAGS).
        Assert.Equal("[local.tpu_network_tag]", Hcl.Value(firewall, "target_tags"));
        Assert.Equal("local.tpu_network_tag", StepEnv()[Deployment.TpuNetworkTagsVariable]);
        Assert.DoesNotContain(firewall, e => e.Key == "source_tags");
    }

    [Fact]
    public void TpuNetwork_CustomModeSubnetsPerRegion_WithPrivateGoogleAccessAndANatEach()
    {
        var network = Infra.Resource("google_compute_network.tpu");
        var subnet = Infra.Resource("google_compute_subnetwork.tpu");
        var router = Infra.Resource("google_compute_router.tpu");
        var nat = Infra.Resource("google_compute_router_nat.tpu");
        var natSubnet = Hcl.Entries(Assert.Single(Hcl.Blocks(nat, "subnetwork")).Value);

        Assert.Equal("false", Hcl.Value(network, "auto_create_subnetworks"));
        Assert.Equal("local.network_name", Hcl.Value(network, "name"));
        Assert.Contains("\"${var.name_prefix}-tpu\"", Infra.Locals["network_name"], StringComparison.Ordinal);
        Assert.Equal("var.tpu_subnets", Hcl.Value(subnet, "for_each"));
        Assert.Equal("each.key", Hcl.Value(subnet, "region"));
        Assert.Equal("true", Hcl.Value(subnet, "private_ip_google_access"));
        Assert.Equal("true", Hcl.Value(Infra.Resource("google_compute_subnetwork.launch_egress"), "private_ip_google_access"));
        Assert.Equal("google_compute_subnetwork.tpu", Hcl.Value(router, "for_each"));
        Assert.Equal("google_compute_subnetwork.tpu", Hcl.Value(nat, "for_each"));
        Assert.Equal("google_compute_router.tpu[each.key].name", Hcl.Value(nat, "router"));
        Assert.Equal("\"LIST_OF_SUBNETWORKS\"", Hcl.Value(nat, "source_subnetwork_ip_ranges_to_nat"));
        Assert.Equal("each.value.id", Hcl.Value(natSubnet, "name"));
    }

    [Fact]
    public void TpuNetwork_ProvisioningSettings_AreTheNetworkItsSubnetsAndNoExternalIpsByDefault()
    {
        var step = StepEnv();

        Assert.Equal("local.tpu_network", step[Deployment.TpuNetworkVariable]);
        Assert.Equal("local.tpu_subnetworks", step[Deployment.TpuSubnetworksVariable]);
        Assert.Equal("tostring(var.tpu_external_ips)", step[Deployment.TpuExternalIpsVariable]);
        Assert.Equal("false", Hcl.Value(Infra.Variables["tpu_external_ips"], "default"));
        // The form Deployment.ParseNetwork reads: REGION=projects/P/regions/REGION/subnetworks/S, comma-separated.
        Assert.Equal("join(\",\", [for region, subnet in google_compute_subnetwork.tpu : \"${region}=${subnet.id}\"])", InfraConfig.Normalize(Infra.Locals["tpu_subnetworks"]));
        Assert.DoesNotContain("create_default_network", Infra.Code, StringComparison.Ordinal);
    }

    private static Dictionary<string, string> StepEnv() => Hcl.Object(Infra.Locals["step_env"]).ToDictionary(e => e.Key, e => e.Value);

    /// <summary>The function name of each topic's handler, from <see cref="SpotJaxFunctions.ByTopic"/>.</summary>
    private static Dictionary<string, string> HandlersByTopic(Topics topics)
    {
        // The handlers are built but never called: no adapter is needed to ask who handles what.
        // A store with an outbox, never opened: only the functions' wiring is read.
        using var store = new SqliteJobStore(Path.Combine(Path.GetTempPath(), "spotjax-unused.db"));
        var functions = new SpotJaxFunctions(store, null!, null!, null!, null!, new ControlPlaneOptions { Project = "p", Bucket = "b", Topics = topics }, TimeProvider.System);
        var names = typeof(FunctionNames).GetFields(BindingFlags.Public | BindingFlags.Static)
            .Where(f => f.IsLiteral)
            .ToDictionary(f => f.Name, f => (string)f.GetRawConstantValue()!);
        return functions.ByTopic.ToDictionary(
            pair => pair.Key,
            pair =>
            {
                var property = typeof(SpotJaxFunctions).GetProperties().Single(p => ReferenceEquals(p.GetValue(functions), pair.Value));
                return names[property.Name];
            });
    }

    /// <summary>The per-function push settings: the object after <c>=&gt;</c> in <c>{ for name in ... : name =&gt; { ... } }</c>.</summary>
    private static IReadOnlyList<Hcl.Entry> PushEnv()
    {
        var value = Infra.Locals["push_env"];
        var open = value.IndexOf('{', value.IndexOf("=>", StringComparison.Ordinal));
        return Hcl.Object(value[open..Hcl.MatchBracket(value, open)]);
    }

    /// <summary>The settings one function alone gets: function name to its <c>name = value</c> entries.</summary>
    private static Dictionary<string, IReadOnlyList<Hcl.Entry>> FunctionEnv() =>
        Hcl.Object(Infra.Locals["function_env"]).ToDictionary(e => e.Key, e => Hcl.Object(e.Value));

    /// <summary>Every environment variable name a constant of the host or its endpoints names.</summary>
    private static HashSet<string> HostVariables() =>
        new[] { typeof(FunctionHostOptions), typeof(Deployment), typeof(GoogleEndpoints) }
            .SelectMany(t => t.GetFields(BindingFlags.Public | BindingFlags.Static).Where(f => f.IsLiteral && f.Name.EndsWith("Variable", StringComparison.Ordinal)))
            .Select(f => (string)f.GetRawConstantValue()!)
            .ToHashSet(StringComparer.Ordinal);

    /// <summary>The names of every variable the services get: literal env blocks and the env maps in locals (shared and per function).</summary>
    private static HashSet<string> InfraVariables()
    {
        var service = Infra.Resource("google_cloud_run_v2_service.function");
        var template = Assert.Single(Hcl.Blocks(service, "template")).Value;
        var container = Assert.Single(Hcl.Blocks(Hcl.Entries(template), "containers")).Value;
        var literal = Hcl.Blocks(Hcl.Entries(container), "env")
            .Select(b => Hcl.Entries(b.Value))
            .Where(e => e.Any(x => x.Key == "name" && !x.IsBlock))
            .Select(e => Hcl.StringLiteral(Hcl.Value(e, "name")) ?? throw new FormatException("an env name is not a literal"));
        var step = Hcl.Object(Infra.Locals["step_env"]).Select(e => e.Key);
        var push = PushEnv().Select(e => e.Key);
        var own = FunctionEnv().Values.SelectMany(e => e).Select(e => e.Key);
        return literal.Concat(step).Concat(push).Concat(own).ToHashSet(StringComparer.Ordinal);
    }
}
