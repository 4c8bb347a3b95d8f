using SpotJax.Core.Ports;

namespace SpotJax.Functions.Host.Events;

/// <summary>What one HTTP delivery carried, whatever its shape.</summary>
public abstract record IncomingEvent(string Id);

/// <summary>A Pub/Sub message: Eventarc <c>messagePublished</c>, or a plain push.</summary>
public sealed record PubSubEvent(PubSubMessage Message) : IncomingEvent(Message.MessageId);

/// <summary>A Cloud Storage object event: Eventarc <c>object.v1.*</c>, or a Pub/Sub notification.</summary>
/// <param name="Kind">The event kind: <c>finalized</c>, <c>deleted</c>, <c>archived</c> or <c>metadataUpdated</c>.</param>
public sealed record StorageEvent(string Id, string Kind, StorageObjectEvent Object) : IncomingEvent(Id)
{
    public const string Finalized = "finalized";
}

/// <summary>A Cloud Scheduler HTTP call.</summary>
public sealed record ScheduledEvent(string Id) : IncomingEvent(Id);
