//! Impact, urgency and the risk matrix derived from them.
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Low,
    Medium,
    High,
}

impl Level {
    pub const ALL: [Level; 3] = [Level::Low, Level::Medium, Level::High];
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Low => "low",
            Level::Medium => "medium",
            Level::High => "high",
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            Level::Low => "Low",
            Level::Medium => "Medium",
            Level::High => "High",
        }
    }
}

impl FromStr for Level {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Level::ALL.into_iter().find(|l| l.as_str() == s).ok_or(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Risk {
    Low,
    Medium,
    High,
    Critical,
}

impl Risk {
    pub const ALL: [Risk; 4] = [Risk::Low, Risk::Medium, Risk::High, Risk::Critical];
    pub fn as_str(self) -> &'static str {
        match self {
            Risk::Low => "low",
            Risk::Medium => "medium",
            Risk::High => "high",
            Risk::Critical => "critical",
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            Risk::Low => "Low",
            Risk::Medium => "Medium",
            Risk::High => "High",
            Risk::Critical => "Critical",
        }
    }
}

impl FromStr for Risk {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Risk::ALL.into_iter().find(|l| l.as_str() == s).ok_or(())
    }
}

/// The risk matrix: impact × urgency.
///
/// |        | low    | medium | high     |
/// |--------|--------|--------|----------|
/// | low    | low    | low    | medium   |
/// | medium | low    | medium | high     |
/// | high   | medium | high   | critical |
pub fn derive(impact: Level, urgency: Level) -> Risk {
    match (impact as u8) + (urgency as u8) {
        0 | 1 => Risk::Low,
        2 => Risk::Medium,
        3 => Risk::High,
        _ => Risk::Critical,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matrix_corners_and_middle() {
        assert_eq!(derive(Level::Low, Level::Low), Risk::Low);
        assert_eq!(derive(Level::Low, Level::Medium), Risk::Low);
        assert_eq!(derive(Level::Medium, Level::Medium), Risk::Medium);
        assert_eq!(derive(Level::High, Level::Low), Risk::Medium);
        assert_eq!(derive(Level::High, Level::Medium), Risk::High);
        assert_eq!(derive(Level::High, Level::High), Risk::Critical);
    }

    #[test]
    fn matrix_is_symmetric() {
        for i in Level::ALL {
            for u in Level::ALL {
                assert_eq!(derive(i, u), derive(u, i));
            }
        }
    }
}
