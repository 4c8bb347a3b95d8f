using SpotJax.Core.Ports;

namespace SpotJax.Local.Messaging;

/// <summary>A message that was never handled successfully within the delivery attempts allowed.</summary>
/// <param name="Topic">The topic it was published to.</param>
/// <param name="Message">The message as it was delivered.</param>
/// <param name="LastError">The message of the exception the last delivery ended with.</param>
/// <param name="DeliveryAttempts">How many times the handler was called.</param>
public sealed record DeadLetter(string Topic, PubSubMessage Message, string LastError, int DeliveryAttempts);
