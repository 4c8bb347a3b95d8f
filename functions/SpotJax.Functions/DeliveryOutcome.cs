namespace SpotJax.Functions;

/// <summary>What a host answers for one delivery.</summary>
public enum DeliveryOutcome
{
    /// <summary>Handled: acknowledge.</summary>
    Done,

    /// <summary>Input that can never be handled; logged and acknowledged so it is not redelivered forever.</summary>
    Rejected,

    /// <summary>Redeliver later (non-2xx to Pub/Sub, redelivery in local mode).</summary>
    Retry,
}
