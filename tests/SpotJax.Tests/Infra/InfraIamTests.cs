using System.Text.RegularExpressions;
using SpotJax.Core;

namespace SpotJax.Tests.Infra;

/// <summary>
/// Least privilege in infra/: one service account per function, every role granted with its reason
/// in a comment right above it, no basic roles and no project-wide storage administration.
/// </summary>
public sealed partial class InfraIamTests
{
    private static readonly InfraConfig Infra = InfraConfig.Instance;

    /// <summary>Roles no function (nor anything else infra/ grants) may hold.</summary>
    public static TheoryData<string> ForbiddenRoles => ["roles/owner", "roles/editor", "roles/viewer", "roles/storage.admin"];

    [Fact]
    public void Roles_EveryRoleInInfra_HasAReasonInTheCommentRightAboveIt()
    {
        var checkedLines = 0;
        foreach (var (file, text) in Infra.Files)
        {
            var lines = text.Split('\n');
            for (var i = 0; i < lines.Length; i++)
            {
                if (!RoleLine().IsMatch(lines[i]))
                {
                    continue;
                }

                checkedLines++;
                var above = i > 0 ? lines[i - 1].Trim() : "";
                Assert.True(
                    above.StartsWith('#') && above.TrimStart('#').Split(' ', StringSplitOptions.RemoveEmptyEntries).Length >= 5,
                    $"{file}:{i + 1}: '{lines[i].Trim()}' needs a comment line right above it that says why the role is needed");
            }
        }

        Assert.True(checkedLines >= 10, $"only {checkedLines} role lines found: the check is not reading infra/");
    }

    [Theory]
    [MemberData(nameof(ForbiddenRoles))]
    public void Roles_ForbiddenRole_IsGrantedNowhere(string role)
    {
        var granted = GrantedRoleLiterals();

        Assert.NotEmpty(granted);
        Assert.DoesNotContain(role, granted);
    }

    [Fact]
    public void ProjectRoles_OfEveryFunction_HoldNoStorageRoleAndComeOnlyFromTheReviewedList()
    {
        // The node's conditioned read of job secrets is the one other project grant (InfraNamesTests).
        var projectGrants = Infra.Resources
            .Where(r => r.Key.StartsWith("google_project_iam_", StringComparison.Ordinal) && r.Key != "google_project_iam_member.node_reads_job_secrets")
            .ToList();

        // Authoritative bindings would take roles away from everything else in the project.
        Assert.All(projectGrants, r => Assert.Equal("google_project_iam_member.function", r.Key));
        var grant = Assert.Single(projectGrants).Value;
        Assert.Equal("local.project_role_grants", Hcl.Value(grant, "for_each"));
        Assert.Equal("each.value.role", Hcl.Value(grant, "role"));
        Assert.All(ProjectRoles(), r => Assert.False(r.StartsWith("roles/storage.", StringComparison.Ordinal), $"{r} at project level would reach every bucket"));
        Assert.All(ProjectRoles(), r => Assert.DoesNotContain(r, new[] { "roles/owner", "roles/editor", "roles/viewer" }));
    }

    [Fact]
    public void ServiceAccounts_OnePerFunction_WithValidIdsAndServiceNames()
    {
        var account = Infra.Resource("google_service_account.function");

        Assert.Equal("local.functions", Hcl.Value(account, "for_each"));
        Assert.Equal("\"${var.name_prefix}-${each.key}\"", Hcl.Value(account, "account_id"));
        Assert.All(new[] { "a", NamePrefix.Default, "spotjax-staging1" }, prefix => Assert.All(Infra.Functions.Keys, name =>
        {
            // Service account ids are 6 to 30 characters; Cloud Run service names at most 49.
            Assert.Matches("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", $"{prefix}-{name}");
            Assert.True($"{prefix}-{name}".Length <= 49);
        }));
        Assert.All(new[] { "project_roles", "publishes" }, map => Assert.Subset(Infra.Functions.Keys.ToHashSet(), Infra.ListMap(map).Keys.ToHashSet()));
        Assert.Subset(Infra.Functions.Keys.ToHashSet(), Infra.ListMap("bucket_roles").Keys.ToHashSet());
    }

    [Fact]
    public void RunInvoker_EventFunctions_AdmitOnlyTheInvokerAccountAndNobodyIsAnonymous()
    {
        var invokerGrants = Infra.Resources.Where(r => r.Value.Any(e => e.Key == "role" && e.Value == "\"roles/run.invoker\"")).ToList();
        var invoker = Infra.Resource("google_cloud_run_v2_service_iam_member.invoker");

        Assert.All(invokerGrants, r => Assert.StartsWith("google_cloud_run_v2_service_iam_member.", r.Key, StringComparison.Ordinal));
        Assert.Equal("local.invoked", Hcl.Value(invoker, "for_each"));
        Assert.Equal("\"serviceAccount:${google_service_account.invoker.email}\"", Hcl.Value(invoker, "member"));
        Assert.DoesNotContain("allUsers", Infra.Code, StringComparison.Ordinal);
        Assert.DoesNotContain("allAuthenticatedUsers", Infra.Code, StringComparison.Ordinal);
        // Only the status page (people, through Cloud Run IAM) takes requests from outside the project.
        Assert.Equal(
            "each.value.trigger == \"http\" ? \"INGRESS_TRAFFIC_ALL\" : \"INGRESS_TRAFFIC_INTERNAL_ONLY\"",
            InfraConfig.Normalize(Hcl.Value(Infra.Resource("google_cloud_run_v2_service.function"), "ingress")));
    }

    [Fact]
    public void BucketRoles_AreGrantedOnTheControlBucketOnly()
    {
        var bucketGrants = Infra.Resources.Where(r => r.Key.StartsWith("google_storage_bucket_iam_", StringComparison.Ordinal)).ToList();

        Assert.NotEmpty(bucketGrants);
        Assert.All(bucketGrants, r =>
        {
            Assert.StartsWith("google_storage_bucket_iam_member.", r.Key, StringComparison.Ordinal);
            Assert.Equal("google_storage_bucket.control.name", Hcl.Value(r.Value, "bucket"));
        });
        Assert.All(Infra.ListMap("bucket_roles").Values.SelectMany(r => r), r => Assert.StartsWith("roles/storage.object", r, StringComparison.Ordinal));
    }

    /// <summary>Every role literal in infra/, wherever it is granted.</summary>
    private static List<string> GrantedRoleLiterals() =>
        RoleLiteral().Matches(Infra.Code).Select(m => m.Groups[1].Value).ToList();

    private static List<string> ProjectRoles() => Infra.ListMap("project_roles").Values.SelectMany(r => r).ToList();

    [GeneratedRegex("\"(roles/[A-Za-z0-9_.]+)\"")]
    private static partial Regex RoleLiteral();

    /// <summary>A role literal, or a <c>role =</c> argument that takes one from a reviewed list.</summary>
    [GeneratedRegex("\"roles/[A-Za-z0-9_.]+\"|^\\s*role\\s*=")]
    private static partial Regex RoleLine();
}
