namespace SpotJax.Core.Tests;

/// <summary>
/// The step rule against the object names real checkpointing libraries write below
/// <c>SPOT_CHECKPOINT_DIR</c>.
/// </summary>
/// <remarks>
/// Confirmed in Orbax's source (orbax/checkpoint/_src/path/step.py, atomicity.py,
/// atomicity_defaults.py, metadata/checkpoint.py, checkpoint_manager.py): the step folder is the
/// bare step number; the per-step metadata file is <c>_CHECKPOINT_METADATA</c>; an unfinished save
/// on a local file system is <c>&lt;step&gt;.orbax-checkpoint-tmp[-&lt;n&gt;]</c>, renamed when done;
/// on <c>gs://</c> the default is to write straight into <c>&lt;step&gt;/</c> and finish with
/// <c>&lt;step&gt;/commit_success.txt</c>; the root metadata item is <c>metadata</c>; PaxML names
/// steps <c>checkpoint_&lt;N&gt;</c> and its temporary folders <c>tmp_...</c>.
/// Assumed from Orbax's format guide and MaxText's documented output, not read from their writers:
/// the exact files inside an item (<c>_METADATA</c>, <c>_sharding</c>, <c>manifest.ocdbt</c>,
/// <c>d/&lt;hash&gt;</c>, <c>ocdbt.process_&lt;n&gt;/</c>, <c>array_metadatas/process_&lt;n&gt;</c>),
/// the file names under the root <c>metadata/</c> folder, MaxText's item name <c>items</c> and its
/// <c>tensorboard/</c> and <c>metrics/</c> folders beside <c>checkpoints/</c>.
/// </remarks>
public sealed class CheckpointStepTests
{
    /// <summary>What a finished Orbax save of step 1000 with one item, <c>state</c>, leaves in a bucket (OCDBT, two hosts).</summary>
    public static TheoryData<string> OrbaxStep1000 => new()
    {
        "1000/_CHECKPOINT_METADATA",
        "1000/state/_METADATA",
        "1000/state/_sharding",
        "1000/state/manifest.ocdbt",
        "1000/state/d/0c4d1e7f9a2b3c5d6e7f8091a2b3c4d5",
        "1000/state/ocdbt.process_0/manifest.ocdbt",
        "1000/state/ocdbt.process_0/d/9f3a07e1c2b4d5a6b7c8d9e0f1a2b3c4",
        "1000/state/ocdbt.process_1/d/1234567890123456",
        "1000/state/array_metadatas/process_0",
        "1000/commit_success.txt",
        // The non-OCDBT format: one TensorStore folder per leaf, whose chunks have numeric names.
        "1000/state/params.dense.kernel/0.0",
        "1000/state/0/c/0/0",
    };

    /// <summary>The same save while in flight on a file system with atomic rename: nothing of it is a step yet.</summary>
    public static TheoryData<string> OrbaxUnfinishedSave => new()
    {
        "1000.orbax-checkpoint-tmp-1733300000123456/_CHECKPOINT_METADATA",
        "1000.orbax-checkpoint-tmp-1733300000123456/state/_METADATA",
        "1000.orbax-checkpoint-tmp-1733300000123456/state/d/0c4d1e7f9a2b3c5d",
        "1000.orbax-checkpoint-tmp-1733300000123456/state/ocdbt.process_0/manifest.ocdbt",
        "1000.orbax-checkpoint-tmp-1733300000123456/state.orbax-checkpoint-tmp-1733300000999999/_sharding",
        "1000.orbax-checkpoint-tmp/state/manifest.ocdbt",
        "checkpoint_1000.orbax-checkpoint-tmp-17/state/_METADATA",
    };

    /// <summary>MaxText: <c>&lt;base_output_directory&gt;/&lt;run_name&gt;/checkpoints/&lt;step&gt;/items/...</c>.</summary>
    public static TheoryData<string, long> MaxTextRun => new()
    {
        { "run-2024-07-01/checkpoints/2500/_CHECKPOINT_METADATA", 2500 },
        { "run-2024-07-01/checkpoints/2500/items/_METADATA", 2500 },
        { "run-2024-07-01/checkpoints/2500/items/ocdbt.process_3/d/5e6f7a8b9c0d1e2f", 2500 },
        { "run-2024-07-01/checkpoints/2500/commit_success.txt", 2500 },
        { "qwen3_8b_sft/checkpoints/0/items/manifest.ocdbt", 0 },
        { "qwen3_8b_sft/checkpoints/300/items/d/0123456789abcdef", 300 },
        { "20240701/checkpoints/300/items/_METADATA", 300 },
        { "v5p-128/checkpoints/12000/items/_sharding", 12000 },
    };

    public static TheoryData<string, long> OtherLayouts => new()
    {
        { "step_00000120.json", 120 },
        { "checkpoint_75/_CHECKPOINT_METADATA", 75 },
        { "checkpoint-75/model.safetensors", 75 },
        { "step_40/state/_METADATA", 40 },
        { "ckpt_9/params.msgpack", 9 },
        { "CHECKPOINT_8", 8 },
        { "checkpoint_500.pkl", 500 },
        { "step_00000120.tar.gz", 120 },
        { "00000120/state/_METADATA", 120 },
        { "/1000/state/_METADATA", 1000 },
        { "run1/step_00000120.json", 120 },
    };

    /// <summary>Names that never are a step: no step part, a temporary part, or a number too long for one.</summary>
    public static TheoryData<string> NotSteps => new()
    {
        "final.json",
        "",
        "/",
        "metadata/_ROOT_METADATA",
        "metadata/metadata",
        "run-2024-07-01/tensorboard/run-2024-07-01/events.out.tfevents.1719800000.t1v-n-0.1234.0.v2",
        "run-2024-07-01/metrics/metrics_run-2024-07-01.txt",
        "run-2024-07-01/checkpoints/notes.txt",
        "qwen3_8b_sft/config.yml",
        "d/0c4d1e7f9a2b3c5d",
        "ocdbt.process_0/manifest.ocdbt",
        "1733300000123/state/_METADATA",
        "12345",
        "a1b2c3d4e5/model.bin",
        "tmp/1000/state/_METADATA",
        "TEMP/step_5.json",
        "tmp_1719800000.checkpoint_1000/state/x",
        "1000-tmp/state/x",
        "step_00000120.json.tmp",
        ".step_00000120.json.k2j4x9",
        ".staging/1000/state/_METADATA",
    };

    [Theory]
    [MemberData(nameof(OrbaxStep1000))]
    public void Of_FinishedOrbaxSave_IsItsStep(string name) => Assert.Equal(1000L, CheckpointStep.Of(name));

    [Theory]
    [MemberData(nameof(OrbaxUnfinishedSave))]
    public void Of_ObjectOfAnUnfinishedOrbaxSave_HasNoStep(string name) => Assert.Null(CheckpointStep.Of(name));

    [Theory]
    [MemberData(nameof(MaxTextRun))]
    public void Of_MaxTextRun_IsTheStepFolderNotTheRunNamesDigits(string name, long step) => Assert.Equal(step, CheckpointStep.Of(name));

    [Theory]
    [MemberData(nameof(OtherLayouts))]
    public void Of_StepFoldersAndStepFiles_AreTheirStep(string name, long step) => Assert.Equal(step, CheckpointStep.Of(name));

    [Theory]
    [MemberData(nameof(NotSteps))]
    public void Of_NameWithoutAStep_IsNull(string name) => Assert.Null(CheckpointStep.Of(name));
}
