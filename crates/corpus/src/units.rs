//! Sizes and counts written as people read them, for messages that say how
//! much a run or a request needs (training's memory refusal, sampling's).

/// Bytes in human units: `1.9 TB`, `512 MB`.
pub fn human_bytes(bytes: u128) -> String {
    let units = ["bytes", "kB", "MB", "GB", "TB", "PB", "EB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < units.len() {
        value /= 1000.0;
        unit += 1;
    }
    match unit {
        0 => format!("{bytes} bytes"),
        _ => format!("{value:.1} {}", units[unit]),
    }
}

/// A count in words for large numbers: `480 billion`, `2.6 million`.
pub fn human_count(n: u128) -> String {
    let scales = [(1e12, "trillion"), (1e9, "billion"), (1e6, "million")];
    let x = n as f64;
    scales
        .iter()
        .find(|(scale, _)| x >= *scale)
        .map_or(n.to_string(), |(scale, name)| {
            format!("{:.1} {name}", x / scale).replace(".0 ", " ")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_read_as_people_write_them() {
        assert_eq!(human_bytes(1_900_000_000_000), "1.9 TB");
        assert_eq!(human_bytes(512), "512 bytes");
        assert_eq!(human_count(480_000_000_000), "480 billion");
        assert_eq!(human_count(2_590_000), "2.6 million");
        assert_eq!(human_count(999), "999");
    }
}
