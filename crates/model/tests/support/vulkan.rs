//! Whether a Vulkan driver is installed, for tests that run wgpu (included
//! with `#[path]` by the model's and the binary's tests).
//!
//! Without a GPU, wgpu runs on Mesa's software Vulkan driver, lavapipe (Debian
//! packages `mesa-vulkan-drivers` and `libvulkan1`, which `.ci/run` installs).
//! A test that finds no driver fails with that advice instead of skipping.

/// Folders where the Vulkan loader looks for drivers.
const ICD_DIRS: [&str; 3] = [
    "/usr/share/vulkan/icd.d",
    "/etc/vulkan/icd.d",
    "/usr/local/share/vulkan/icd.d",
];

/// Panics, naming the packages to install, when no Vulkan driver is installed
/// (on Linux; elsewhere wgpu uses Metal or DirectX).
pub fn require_vulkan() {
    if !cfg!(target_os = "linux") {
        return;
    }
    let named = ["VK_ICD_FILENAMES", "VK_DRIVER_FILES"]
        .iter()
        .any(|v| std::env::var_os(v).is_some());
    let installed = ICD_DIRS.iter().any(|dir| {
        std::fs::read_dir(dir).is_ok_and(|entries| {
            entries
                .flatten()
                .any(|e| e.path().extension().is_some_and(|x| x == "json"))
        })
    });
    assert!(
        named || installed,
        "no Vulkan driver found (looked in {}): install one, e.g. `apt-get install mesa-vulkan-drivers libvulkan1` for lavapipe",
        ICD_DIRS.join(", ")
    );
}
