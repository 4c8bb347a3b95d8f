namespace SpotJax.Tests.Deploy;

/// <summary>What <c>gcloud builds submit</c> uploads from a clone holding a launch key and local Terraform files.</summary>
public sealed class GcloudIgnoreTests
{
    [Fact]
    public async Task GcloudIgnore_KeysTfvarsStateAndTerraformFolder_AreNotUploadedButTheBuildIs()
    {
        var root = Directory.CreateTempSubdirectory("spotjax-upload-").FullName;
        try
        {
            var copy = await RepositoryCopy.CreateAsync(Path.Combine(root, "repository"));
            string[] secret = ["spotjax_key", "spotjax_key.pub", "infra/terraform.tfvars", "infra/prod.tfvars.json", "infra/.terraform/providers/x", "infra/terraform.tfstate", "infra/terraform.tfstate.backup", "deploy.pem", ".git/config", "tests/SpotJax.Tests/bin/x.dll", "functions/SpotJax.Functions/obj/x.json", "TestResults/x.trx"];
            foreach (var file in secret)
            {
                Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(copy, file))!);
                await File.WriteAllTextAsync(Path.Combine(copy, file), "secret");
            }

            var listing = await Tool.RunAsync("gcloud", ["meta", "list-files-for-upload", copy], copy, GcloudSandbox.Environment(Path.Combine(root, "gcloud")));

            Assert.True(listing.ExitCode == 0, listing.ToString());
            var uploaded = listing.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet();
            Assert.All(secret, file => Assert.DoesNotContain(file, uploaded));
            Assert.Subset(uploaded, new HashSet<string> { "cloudbuild.yaml", "infra/destroy.cloudbuild.yaml", "functions/Dockerfile", "infra/terraform.tfvars.example", "infra/secrets.tf", "SpotJax.sln" });
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
