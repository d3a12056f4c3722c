"""The Streamlit pages of the GAN lab: widgets in, gan_core calls, pictures out."""
