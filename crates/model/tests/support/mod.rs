//! Helpers shared by the model's tests.
#![allow(dead_code)]

pub mod gpu;
pub mod identical;
pub mod vulkan;
