namespace SpotJax.Core.Status;

/// <summary>One checkpoint seen in the checkpoint folder: its step and when its last object was written.</summary>
public sealed record CheckpointPoint(long Step, DateTimeOffset At);
