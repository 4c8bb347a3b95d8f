namespace SpotJax.Core.Jobs;

/// <summary>
/// The provisioned time of one attempt, appended to <see cref="Job.Billing"/> by the lifecycle transitions in the
/// same compare-and-set write as the transition: opened when the control plane first sees the attempt's queued
/// resource ACTIVE, closed when the attempt ends. <see cref="Cost.JobCost"/> prices it.
/// </summary>
/// <param name="Attempt">The attempt, from 1.</param>
/// <param name="Zone">Where its TPU ran (the region picks the price).</param>
/// <param name="TpuType">Its accelerator type (the generation picks the price).</param>
/// <param name="Chips">The chips billed per hour (<see cref="TpuChips.Of"/>); 0 when unknown, which makes the cost unknown.</param>
/// <param name="Spot">Whether the TPU was Spot (priced at the Spot rate) or on-demand.</param>
/// <param name="StartedAt">When the TPU was first seen ACTIVE.</param>
/// <param name="EndedAt">When the attempt ended; null while it runs.</param>
public sealed record BillingEntry(int Attempt, string Zone, string TpuType, int Chips, bool Spot, DateTimeOffset StartedAt, DateTimeOffset? EndedAt);
