//! Word lists for names of people, places and employers, as they sound in central Shanxi.

use rand::seq::IndexedRandom;
use rand::Rng;

/// Surnames, the common ones of Jinzhong listed more than once so they come up more often.
const SURNAMES: &[&str] = &[
    "王", "王", "王", "李", "李", "李", "张", "张", "刘", "刘", "赵", "赵", "杨", "郭", "郭", "武",
    "田", "韩", "高", "段", "郝", "郝", "程", "温", "贾", "梁", "史", "宋", "孙", "马", "冀", "牛",
    "霍", "乔", "白", "任", "侯", "范", "陈", "周", "吴", "许", "曹", "秦", "薛", "常", "胡", "董",
    "阎", "申", "岳", "苗", "魏", "邢",
];

const MALE: &[&str] = &[
    "国", "建", "军", "明", "伟", "强", "勇", "平", "海", "林", "斌", "刚", "志", "文", "杰", "峰",
    "亮", "辉", "兵", "福", "贵", "生", "荣", "旺", "锁", "喜", "成", "宝", "栓", "虎", "龙", "忠",
    "义", "德", "春", "有", "根", "保", "全", "新", "华", "俊", "鹏", "宇", "浩", "磊", "涛", "鑫",
    "晨", "永", "树", "金", "山", "虎",
];

const FEMALE: &[&str] = &[
    "秀", "英", "兰", "芳", "丽", "霞", "娟", "红", "梅", "玲", "凤", "琴", "翠", "桂", "萍", "燕",
    "艳", "花", "珍", "香", "莲", "爱", "巧", "云", "月", "慧", "静", "婷", "敏", "丹", "雪", "佳",
    "欣", "悦", "瑶", "琳",
];

/// A surname.
pub(super) fn surname(rng: &mut impl Rng) -> &'static str {
    SURNAMES.choose(rng).copied().unwrap_or("王")
}

/// A full name: `surname` and one or two given characters.
pub(super) fn person(rng: &mut impl Rng, surname: &str, male: bool) -> String {
    let chars = if male { MALE } else { FEMALE };
    let mut name = String::with_capacity(9);
    name.push_str(surname);
    name.push_str(chars.choose(rng).copied().unwrap_or("明"));
    if rng.random_bool(0.7) {
        name.push_str(chars.choose(rng).copied().unwrap_or("明"));
    }
    name
}

/// First syllables of place names.
const PLACE_A: &[&str] = &[
    "平", "安", "清", "和", "宁", "兴", "永", "泰", "长", "云", "汾", "晋", "阳", "古", "定", "靖",
    "临", "文", "武", "东", "西", "南", "北", "石", "柳", "龙", "凤", "马", "白", "青", "黄", "红",
    "太", "昌", "福", "德", "高", "双", "金", "玉",
];

/// Second syllables of place names.
const PLACE_B: &[&str] = &[
    "川", "山", "水", "源", "泉", "城", "谷", "峪", "河", "原", "庄", "坪", "岭", "关", "口", "堡",
    "寨", "店", "台", "阁", "壁", "沟", "阴", "乐", "丰",
];

/// The `index`th two-syllable place name stem; `index` below [`place_stems`] gives distinct stems.
pub(super) fn place_stem(index: usize) -> String {
    let a = PLACE_A[index % PLACE_A.len()];
    let b = PLACE_B[(index / PLACE_A.len() + index) % PLACE_B.len()];
    format!("{a}{b}")
}

/// How many distinct stems [`place_stem`] gives.
pub(super) fn place_stems() -> usize {
    PLACE_A.len() * PLACE_B.len()
}

/// First parts of village names.
const VILLAGE_A: &[&str] = &[
    "王家", "李家", "张家", "刘家", "赵家", "杨家", "郭家", "武家", "田家", "韩家", "高家", "段家",
    "郝家", "程家", "东", "西", "南", "北", "上", "下", "前", "后", "大", "小", "石", "沙", "柳",
    "杨", "桃", "杏", "枣", "榆", "松", "柏", "红", "青", "白", "黄", "马", "牛", "羊", "鹿", "凤",
    "龙", "双", "三", "新", "古", "庙", "官", "井", "泉", "河", "峪",
];

/// Second parts of village names.
const VILLAGE_B: &[&str] = &[
    "庄", "沟", "峪", "坪", "河", "岭", "坡", "村", "堡", "寨", "湾", "垴", "泉", "窑", "沿", "口",
    "头", "底", "塔", "岩", "源",
];

/// How many distinct village names [`village`] gives.
pub(super) fn villages() -> usize {
    VILLAGE_A.len() * VILLAGE_B.len()
}

/// The `index`th village name.
pub(super) fn village(index: usize) -> String {
    let a = VILLAGE_A[index % VILLAGE_A.len()];
    let b = VILLAGE_B[(index / VILLAGE_A.len()) % VILLAGE_B.len()];
    format!("{a}{b}村")
}

/// Names of resettlement neighbourhoods.
pub(super) const SITE_NAMES: &[&str] = &[
    "幸福苑",
    "安康苑",
    "和谐家园",
    "阳光小区",
    "移民新村",
    "福馨苑",
    "惠民小区",
    "康居小区",
    "锦绣家园",
    "祥和苑",
    "丰泰苑",
    "安居小区",
    "同心家园",
    "新桥小区",
    "怡心苑",
    "富民新村",
    "宜居苑",
    "兴旺小区",
];

/// Works of each category.
pub(super) const MAIN_WORKS: &[&str] = &["住宅楼主体工程", "安置房建设工程", "住宅楼二期工程"];
pub(super) const INFRASTRUCTURE_WORKS: &[&str] =
    &["供水工程", "供电工程", "道路硬化", "污水管网", "集中供暖"];
pub(super) const PUBLIC_WORKS: &[&str] = &[
    "幼儿园",
    "卫生室",
    "社区服务中心",
    "文化活动广场",
    "扶贫车间",
];
pub(super) const ANCILLARY_WORKS: &[&str] = &["绿化工程", "围墙大门", "路灯亮化", "停车场"];

/// Cities and companies of directed labour export.
pub(super) const EXPORT_CITIES_OUT: &[&str] = &[
    "北京",
    "天津",
    "上海",
    "苏州",
    "宁波",
    "深圳",
    "东莞",
    "郑州",
    "石家庄",
    "包头",
];
pub(super) const EXPORT_CITIES_IN: &[&str] = &["太原", "晋中", "长治", "大同", "阳泉"];
pub(super) const COMPANIES: &[&str] = &[
    "顺达物流有限公司",
    "华信电子有限公司",
    "宏远建筑工程有限公司",
    "鑫源家政服务有限公司",
    "安泰保安服务有限公司",
    "恒通机械制造有限公司",
    "金鼎餐饮管理有限公司",
    "惠康制衣有限公司",
];
/// Local employers, after the county's name.
pub(super) const LOCAL_EMPLOYERS: &[&str] = &[
    "农业专业合作社",
    "扶贫车间",
    "中药材种植基地",
    "食用菌产业园",
    "光伏电站",
    "建筑工程队",
    "养殖场",
    "核桃加工厂",
    "服装加工厂",
    "小杂粮加工厂",
];
pub(super) const HOME_WORK: &[&str] = &[
    "居家手工编织",
    "来料加工",
    "个体经营",
    "电商代销",
    "家庭养殖",
];
/// Public-welfare posts, after the village's name.
pub(super) const WELFARE_POSTS: &[&str] =
    &["保洁员", "护林员", "水管员", "治安巡逻员", "道路养护员"];
