using SpotJax.Core.Lifecycle;
using SpotJax.Core.Tpu;

namespace SpotJax.Core.Tests.Lifecycle;

/// <summary>The classification table of failed creates (docs/provisioning-failures.md), row by row.</summary>
public sealed class ProvisionFailureTests
{
    private static readonly ProvisionTarget Target = new("my-project", "us-central2-b", "v4-8", "tpu-ubuntu2204-base", "spotjax-node@my-project.iam.gserviceaccount.com");

    [Theory]
    [InlineData("RESOURCE_EXHAUSTED", "Quota limit 'TPUV6EPreemptiblePerProjectPerRegionForTPUAPI' has been exceeded. Limit: 0 in region us-east5.", null, ProvisionFailureKind.Quota)]
    [InlineData("RESOURCE_EXHAUSTED", "anything", "RESOURCE_QUOTA_EXCEEDED", ProvisionFailureKind.Quota)]
    [InlineData("PERMISSION_DENIED", "Quota 'TPUS' exceeded.", "QUOTA_EXCEEDED", ProvisionFailureKind.Quota)]
    [InlineData("RESOURCE_EXHAUSTED", "Quota exceeded for quota metric 'Create requests' and limit 'Create requests per minute' of service 'tpu.googleapis.com'.", "RATE_LIMIT_EXCEEDED", ProvisionFailureKind.Transient)]
    [InlineData("RESOURCE_EXHAUSTED", "Maximum number of CreateNode requests per minute exceeded.", null, ProvisionFailureKind.Transient)]
    [InlineData("RESOURCE_EXHAUSTED", "Too many requests.", null, ProvisionFailureKind.Transient)]
    [InlineData("RESOURCE_EXHAUSTED", "There is no more capacity in the zone \"us-central1-b\"; you can try in another zone", null, ProvisionFailureKind.StockOut)]
    [InlineData("RESOURCE_EXHAUSTED", "Insufficient reserved capacity. Contact customer support.", null, ProvisionFailureKind.StockOut)]
    [InlineData("PERMISSION_DENIED", "Permission 'tpu.queuedResources.create' denied.", null, ProvisionFailureKind.Permission)]
    [InlineData("UNAUTHENTICATED", "Request had invalid authentication credentials.", null, ProvisionFailureKind.Permission)]
    [InlineData("INVALID_ARGUMENT", "Invalid runtime version.", null, ProvisionFailureKind.InvalidRequest)]
    [InlineData("NOT_FOUND", "Location us-central9-z not found.", null, ProvisionFailureKind.InvalidRequest)]
    [InlineData("FAILED_PRECONDITION", "Subnetwork has no Private Google Access.", null, ProvisionFailureKind.InvalidRequest)]
    [InlineData("UNIMPLEMENTED", "Not supported in this location.", null, ProvisionFailureKind.InvalidRequest)]
    [InlineData("UNAVAILABLE", "The service is currently unavailable.", null, ProvisionFailureKind.Transient)]
    [InlineData("INTERNAL", "Internal error.", null, ProvisionFailureKind.Transient)]
    [InlineData("DEADLINE_EXCEEDED", "no answer within 00:00:20", null, ProvisionFailureKind.Transient)]
    [InlineData("ABORTED", "Concurrent modification.", null, ProvisionFailureKind.Transient)]
    public void Classify_CodeReasonAndMessage_GiveTheKind(string code, string message, string? reason, ProvisionFailureKind kind)
    {
        var failure = ProvisionFailure.Classify(code, message, reason, Target);

        Assert.Equal(kind, failure.Kind);
        Assert.Equal(kind is ProvisionFailureKind.Permission or ProvisionFailureKind.InvalidRequest, failure.IsPermanent);
        Assert.StartsWith($"{code}: {message}", failure.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("PERMISSION_DENIED", "denied", null, "roles/tpu.admin on project my-project and roles/iam.serviceAccountUser on the TPU VMs' service account spotjax-node@")]
    [InlineData("PERMISSION_DENIED", "Cloud TPU API has not been used in project 123 before or it is disabled.", "SERVICE_DISABLED", "gcloud services enable tpu.googleapis.com --project my-project")]
    [InlineData("PERMISSION_DENIED", "billing account disabled", "BILLING_DISABLED", "enable billing on project my-project")]
    [InlineData("INVALID_ARGUMENT", "bad", null, "gcloud compute tpus versions list --zone us-central2-b")]
    [InlineData("RESOURCE_EXHAUSTED", "Quota limit exceeded.", null, "request more Spot TPU quota for v4-8 in us-central2-b")]
    public void Classify_PermanentAndQuota_NameWhatToFix(string code, string message, string? reason, string fix)
    {
        Assert.Contains(fix, ProvisionFailure.Classify(code, message, reason, Target).Fix, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(8, "There is no more capacity in the zone", ProvisionFailureKind.StockOut, "RESOURCE_EXHAUSTED")]
    [InlineData(7, "denied", ProvisionFailureKind.Permission, "PERMISSION_DENIED")]
    [InlineData(4, "valid-until passed", ProvisionFailureKind.Transient, "DEADLINE_EXCEEDED")]
    [InlineData(99, "from the future", ProvisionFailureKind.Transient, "UNKNOWN")]
    public void FromStatus_NumericCode_IsReadAsItsName(int code, string message, ProvisionFailureKind kind, string name)
    {
        var failure = ProvisionFailure.FromStatus(new RpcStatus { Code = code, Message = message }, Target);

        Assert.Equal((kind, name), (failure.Kind, failure.Code));
    }

    [Fact]
    public void FromStatus_ErrorInfoReasonInDetails_Decides()
    {
        var status = new RpcStatus
        {
            Code = 8,
            Message = "Quota exceeded for quota metric 'x' and limit 'y'",
            Details = [new RpcStatusDetail { Type = RpcStatusDetail.ErrorInfoType, Reason = "RATE_LIMIT_EXCEEDED" }],
        };

        Assert.Equal(ProvisionFailureKind.Transient, ProvisionFailure.FromStatus(status, Target).Kind);
    }

    [Theory]
    [InlineData(1, 0.0, 15)]
    [InlineData(1, 0.999, 30)]
    [InlineData(2, 0.0, 30)]
    [InlineData(3, 0.5, 90)]
    [InlineData(10, 0.0, 240)]
    public void ProvisionBackoff_DoublesPerTryUpToTheMaximum_WithItsJitterShare(int @try, double sample, int seconds)
    {
        var backoff = JobLifecycle.ProvisionBackoff(@try, new LifecycleOptions(), sample);

        Assert.Equal(seconds, backoff.TotalSeconds, 0);
    }

    [Theory]
    [InlineData(null, null, 0.0, 30)]       // the first rate limit: the base
    [InlineData(45, null, 0.0, 90)]         // then twice the time since the previous one
    [InlineData(5, null, 0.0, 30)]          // never below the base
    [InlineData(600, null, 0.0, 120)]       // nor above the rate-limit maximum (2 min: the quota refills every minute)
    [InlineData(null, 50, 0.0, 50)]         // never before the server's Retry-After
    [InlineData(600, 900, 0.0, 900)]        // even beyond that maximum
    [InlineData(45, 20, 0.999, 134.955)]    // plus up to half of it again at random
    public void RateLimitBackoff_DoublesTheGapUpToTheMaximum_NeverBelowRetryAfter_JitteredAbove(int? sincePrevious, int? retryAfter, double sample, double seconds)
    {
        var backoff = JobLifecycle.RateLimitBackoff(
            sincePrevious is { } gap ? TimeSpan.FromSeconds(gap) : null,
            retryAfter is { } wait ? TimeSpan.FromSeconds(wait) : null,
            new LifecycleOptions(),
            sample);

        Assert.Equal(seconds, backoff.TotalSeconds, 3);
    }
}
