using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

var builder = WebApplication.CreateSlimBuilder(args);
builder.WebHost.ConfigureKestrel(kestrel => kestrel.ListenAnyIP(int.Parse(Environment.GetEnvironmentVariable("PORT") ?? "8080", System.Globalization.CultureInfo.InvariantCulture)));
var app = builder.Build();
app.MapPost("/", () => Results.NoContent());
app.Run();
