fn main() {
    println!("apps: not yet implemented");
}
