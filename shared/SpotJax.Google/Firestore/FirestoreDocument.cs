using System.Text.Json.Nodes;

namespace SpotJax.Google.Firestore;

/// <summary>A Firestore <c>Document</c> as the REST API returns it.</summary>
internal sealed record FirestoreDocument
{
    /// <summary><c>projects/{p}/databases/{db}/documents/{path}</c>.</summary>
    public string Name { get; init; } = "";

    public JsonObject? Fields { get; init; }

    /// <summary>Set by the server on every write; the job's revision.</summary>
    public string? UpdateTime { get; init; }
}
