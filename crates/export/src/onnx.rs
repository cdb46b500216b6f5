//! `model.onnx`: one graph from character ids and the states of every layer
//! to the logits and the new states, so that a caller runs a whole prime at
//! once or steps one character at a time. Each layer is ONNX's own `LSTM`
//! operator; the embedding is a `Gather`, the output a `MatMul` and an `Add`.

use onnx_protobuf::attribute_proto::AttributeType;
use onnx_protobuf::tensor_proto::DataType;
use onnx_protobuf::tensor_shape_proto::{dimension, Dimension};
use onnx_protobuf::{
    type_proto, AttributeProto, GraphProto, Message, ModelProto, NodeProto, OperatorSetIdProto,
    StringStringEntryProto, TensorProto, TensorShapeProto, TypeProto, ValueInfoProto,
};

use charrnn_sample::Weights;

use crate::safetensors::le_bytes;
use crate::MANIFEST;

/// The weights file's name.
pub(crate) const FILE: &str = "model.onnx";

/// The opset the graph uses (onnxruntime has run it since 1.12), and the IR
/// version that goes with it.
const OPSET: i64 = 17;
const IR_VERSION: i64 = 8;

/// For each of ONNX's gate blocks (`i, o, f, c`), charrnn's block (`i, f, o, g`).
const ONNX_GATE_FROM: [usize; 4] = [0, 2, 1, 3];

/// The model file's bytes, with `manifest` (the manifest's JSON) in its
/// metadata.
pub(crate) fn encode(weights: &Weights, manifest: &str) -> Vec<u8> {
    let model = ModelProto {
        ir_version: IR_VERSION,
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: OPSET,
            ..Default::default()
        }],
        producer_name: "charrnn".into(),
        producer_version: env!("CARGO_PKG_VERSION").into(),
        graph: Some(graph(weights)).into(),
        metadata_props: vec![StringStringEntryProto {
            key: MANIFEST.into(),
            value: manifest.into(),
            ..Default::default()
        }],
        ..Default::default()
    };
    model
        .write_to_bytes()
        .expect("a model in memory always encodes")
}

fn graph(weights: &Weights) -> GraphProto {
    let (v, h, layers) = (
        weights.vocab_size,
        weights.hidden_size,
        weights.layers.len(),
    );
    let mut nodes = vec![node("Gather", &["embedding", "ids"], &["x0"], vec![])];
    let mut initializer = vec![
        floats("embedding", &[v, weights.embed_size], &weights.embedding),
        floats("output_weight", &[h, v], &weights.output_weight),
        floats("output_bias", &[v], &weights.output_bias),
        int64s("squeeze_axes", &[1]),
        int64s("state_axes", &[0]),
    ];
    for (l, layer) in weights.layers.iter().enumerate() {
        let input = weights.input_size(l);
        let name = |what: &str| format!("{what}{l}");
        initializer.extend([
            floats(
                &name("W"),
                &[1, 4 * h, input],
                &onnx_gates(&layer.w_ih, input, h),
            ),
            floats(&name("R"), &[1, 4 * h, h], &onnx_gates(&layer.w_hh, h, h)),
            floats(&name("B"), &[1, 8 * h], &onnx_bias(&layer.bias, h)),
            int64s(&name("start"), &[l as i64]),
            int64s(&name("end"), &[l as i64 + 1]),
        ]);
        for state in ["h", "c"] {
            let (start, end) = (name("start"), name("end"));
            let inputs = [&format!("{state}0")[..], &start, &end, "state_axes"];
            nodes.push(node("Slice", &inputs, &[&format!("{state}0_{l}")], vec![]));
        }
        let lstm_inputs = [
            &name("x")[..],
            &name("W"),
            &name("R"),
            &name("B"),
            "",
            &name("h0_"),
            &name("c0_"),
        ];
        let lstm_outputs = [&name("y")[..], &name("hn_"), &name("cn_")];
        nodes.push(node(
            "LSTM",
            &lstm_inputs,
            &lstm_outputs,
            vec![int_attr("hidden_size", h as i64)],
        ));
        let next = format!("x{}", l + 1);
        nodes.push(node(
            "Squeeze",
            &[&name("y"), "squeeze_axes"],
            &[&next],
            vec![],
        ));
    }
    let top = format!("x{layers}");
    nodes.push(node(
        "MatMul",
        &[&top, "output_weight"],
        &["scores"],
        vec![],
    ));
    nodes.push(node("Add", &["scores", "output_bias"], &["logits"], vec![]));
    for state in ["hn", "cn"] {
        let parts: Vec<String> = (0..layers).map(|l| format!("{state}_{l}")).collect();
        let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
        nodes.push(node("Concat", &parts, &[state], vec![int_attr("axis", 0)]));
    }
    let (seq, batch) = (Dim::Named("seq"), Dim::Named("batch"));
    let state_dims = [Dim::Size(layers), batch, Dim::Size(h)];
    GraphProto {
        name: "charrnn".into(),
        node: nodes,
        initializer,
        input: vec![
            value("ids", DataType::INT64, &[seq, batch]),
            value("h0", DataType::FLOAT, &state_dims),
            value("c0", DataType::FLOAT, &state_dims),
        ],
        output: vec![
            value("logits", DataType::FLOAT, &[seq, batch, Dim::Size(v)]),
            value("hn", DataType::FLOAT, &state_dims),
            value("cn", DataType::FLOAT, &state_dims),
        ],
        ..Default::default()
    }
}

/// charrnn's `[input, 4*hidden]` weights (gates `ifog`) as ONNX's
/// `[4*hidden, input]` (gates `iofc`).
fn onnx_gates(w: &[f32], input: usize, hidden: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(w.len());
    for from in ONNX_GATE_FROM {
        for j in from * hidden..(from + 1) * hidden {
            out.extend((0..input).map(|k| w[k * 4 * hidden + j]));
        }
    }
    out
}

/// charrnn's one bias (gates `ifog`) as ONNX's input and recurrent biases
/// (gates `iofc`), the second all zero.
fn onnx_bias(bias: &[f32], hidden: usize) -> Vec<f32> {
    let mut out: Vec<f32> = ONNX_GATE_FROM
        .iter()
        .flat_map(|&from| &bias[from * hidden..(from + 1) * hidden])
        .copied()
        .collect();
    out.resize(8 * hidden, 0.0);
    out
}

fn node(op: &str, inputs: &[&str], outputs: &[&str], attribute: Vec<AttributeProto>) -> NodeProto {
    NodeProto {
        op_type: op.into(),
        name: format!("{op}_{}", outputs[0]),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: outputs.iter().map(|s| s.to_string()).collect(),
        attribute,
        ..Default::default()
    }
}

fn int_attr(name: &str, i: i64) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        type_: AttributeType::INT.into(),
        i,
        ..Default::default()
    }
}

fn floats(name: &str, dims: &[usize], values: &[f32]) -> TensorProto {
    TensorProto {
        name: name.into(),
        dims: dims.iter().map(|&d| d as i64).collect(),
        data_type: DataType::FLOAT as i32,
        raw_data: le_bytes(values),
        ..Default::default()
    }
}

fn int64s(name: &str, values: &[i64]) -> TensorProto {
    TensorProto {
        name: name.into(),
        dims: vec![values.len() as i64],
        data_type: DataType::INT64 as i32,
        raw_data: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        ..Default::default()
    }
}

/// A dimension of a graph input or output: fixed, or named by the caller.
#[derive(Clone, Copy)]
enum Dim {
    Size(usize),
    Named(&'static str),
}

fn value(name: &str, elem_type: DataType, dims: &[Dim]) -> ValueInfoProto {
    let dim = dims
        .iter()
        .map(|d| Dimension {
            value: Some(match *d {
                Dim::Size(n) => dimension::Value::DimValue(n as i64),
                Dim::Named(s) => dimension::Value::DimParam(s.into()),
            }),
            ..Default::default()
        })
        .collect();
    let tensor = type_proto::Tensor {
        elem_type: elem_type as i32,
        shape: Some(TensorShapeProto {
            dim,
            ..Default::default()
        })
        .into(),
        ..Default::default()
    };
    ValueInfoProto {
        name: name.into(),
        type_: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(tensor)),
            ..Default::default()
        })
        .into(),
        ..Default::default()
    }
}
