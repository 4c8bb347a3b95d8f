using SpotJax.Core.Tpu;

namespace SpotJax.Core.Steps;

/// <summary>Whose a queued resource is, by its labels (<see cref="ProvisionFunction.DeploymentLabel"/>, <see cref="ProvisionFunction.JobLabel"/>).</summary>
public enum QueuedResourceOwnership
{
    /// <summary>Not made by SpotJax (no job label).</summary>
    None,

    /// <summary>Labelled with this deployment's name.</summary>
    Ours,

    /// <summary>Labelled with another deployment's name.</summary>
    Others,

    /// <summary>Made by a SpotJax older than the deployment label: a job label and no deployment label.</summary>
    Unlabelled,
}

public static class QueuedResourceOwner
{
    /// <summary>Whose <paramref name="queued"/> is, for the deployment named <paramref name="deployment"/>.</summary>
    public static QueuedResourceOwnership Of(QueuedResource queued, string deployment) =>
        queued.NodeLabels.TryGetValue(ProvisionFunction.DeploymentLabel, out var owner)
            ? string.Equals(owner, deployment, StringComparison.Ordinal) ? QueuedResourceOwnership.Ours : QueuedResourceOwnership.Others
            : queued.NodeLabels.ContainsKey(ProvisionFunction.JobLabel) ? QueuedResourceOwnership.Unlabelled : QueuedResourceOwnership.None;
}
